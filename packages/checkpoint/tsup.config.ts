import { library } from '../../tooling/tsup.library';

// keep `node:fs/promises` (imported lazily, only for paths) recognisable to browser bundlers
export default library({ removeNodeProtocol: false });
