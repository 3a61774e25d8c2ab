/**
 * Lazy access to @tensorflow/tfjs-core: only the feature extractors need it, so the
 * metrics themselves load without TensorFlow.js installed.
 */
import { BackendUnavailableError } from './errors.js';

export type TF = typeof import('@tensorflow/tfjs-core');

let tfPromise: Promise<TF> | null = null;

/** Import @tensorflow/tfjs-core on first use; a clear error if it is not installed. */
export function loadTf(): Promise<TF> {
  if (!tfPromise) {
    tfPromise = import('@tensorflow/tfjs-core').catch((err: unknown) => {
      tfPromise = null;
      throw new BackendUnavailableError(
        'tfjs',
        'The feature extractors of @var/metrics need @tensorflow/tfjs-core and a backend: ' +
          'npm install @tensorflow/tfjs-core @tensorflow/tfjs-backend-wasm (the metrics on features work without them).',
        { cause: err },
      );
    });
  }
  return tfPromise;
}
