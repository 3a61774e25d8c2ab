import { library } from '../../tooling/tsup.library';

// tfjs-free entries: `@var/core/errors` (the typed errors) and `@var/core/fs` (atomic writes),
// for the packages that must load without TensorFlow.js (@var/checkpoint, @var/metrics)
export default library({ entry: { index: 'src/index.ts', errors: 'src/errors.ts', fs: 'src/fs/atomic.ts' } });
