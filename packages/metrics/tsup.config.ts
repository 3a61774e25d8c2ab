import { library } from '../../tooling/tsup.library';

// The typed errors come from @var/core's tfjs-free entry `@var/core/errors` (a dependency, not
// bundled), so `instanceof` works across packages and the metrics load without TensorFlow.js.
export default library({ splitting: true, external: [/^@tensorflow\//, /^@var\//, 'fflate'] });
