/** Types for plot.mjs (raster plots for the script-produced figures of docs/paper-claims.md). */
export type Rgb = [number, number, number];
export interface PlotSeries {
  name: string;
  color: Rgb;
  points: { x: number; y: number }[];
  line?: boolean;
  marker?: boolean;
}
export interface PlotFit {
  name: string;
  color: Rgb;
  f: (x: number) => number;
}
export interface PlotOptions {
  width?: number;
  height?: number;
  title?: string;
  xLabel?: string;
  yLabel?: string;
  logX?: boolean;
  logY?: boolean;
  series: PlotSeries[];
  fits?: PlotFit[];
  legend?: boolean | 'upper right' | 'upper left' | 'lower right' | 'lower left';
  /** Empty space above the data as a fraction of the y range (default 0.05). */
  headroom?: number;
}
export interface PlotImage {
  width: number;
  height: number;
  channels: 3;
  data: Uint8Array;
}
export function formatTick(v: number): string;
export function renderPlot(opts: PlotOptions): PlotImage;
export function encodePlotPng(img: PlotImage): Uint8Array;
