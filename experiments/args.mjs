/** The experiment scripts parse their arguments with the repository's script helpers (`--help`, exit 2 on bad input). */
export { numberArg, parseCommand, positiveArg } from '../tooling/script-args.mjs';
