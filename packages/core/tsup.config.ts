import { library } from '../../tooling/tsup.library';

// `@var/core/errors`: the typed errors without TensorFlow.js (for @var/metrics)
export default library({ entry: ['src/index.ts', 'src/errors.ts'] });
