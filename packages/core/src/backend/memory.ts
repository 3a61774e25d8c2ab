/**
 * What a backend can hold, for the checks that fail before allocating (instead of a wasm abort
 * or a stall near the heap limit).
 */

/** Bytes a wasm module can address: tfjs-backend-wasm's heap maximum, 4 GiB − 64 KiB. */
export const WASM_HEAP_MAX_BYTES = 4294901760;

/** "1.23 GiB" / "456 MiB". */
export function formatBytes(b: number): string {
  return b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : `${(b / 2 ** 20).toFixed(0)} MiB`;
}
