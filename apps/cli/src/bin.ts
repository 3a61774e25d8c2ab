#!/usr/bin/env node
/**
 * The `var` executable. Training commands register tfjs-core's gradients through
 * `ensureGradients()` from @var/core (which handles plain Node's ESM resolution itself);
 * inference needs none.
 */
const { main } = await import('./main.js');
process.exitCode = await main(process.argv.slice(2));
export {};
