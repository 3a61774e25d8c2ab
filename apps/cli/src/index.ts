/**
 * @var/cli — the `var` command line, usable in-process: `run(argv, io)` returns the exit code.
 */
export { run, main, buildProgram, VERSION } from './main.js';
export { Ui, processIo, type Io, type Ctx, type Progress, type UiOptions } from './ui.js';
export { UsageError, describeError, EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED } from './errors.js';
export { readTokens, writeTokens, TOKENS_FORMAT, type TokenFile } from './commands/codec.js';
