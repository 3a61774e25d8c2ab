/**
 * Arguments of the repository's scripts (the packages' bench/ scripts, experiments/): `parseArgs`
 * from `node:util` plus `--help`.
 * `--help` / `-h` prints the usage and exits 0; an unknown option, a missing value or an
 * unexpected positional prints the error and the usage on stderr and exits 2. Call it before
 * any heavy import, so that `--help` is instant.
 *
 *   const { values, positionals } = parseCommand(USAGE, { steps: { type: 'string', default: '1000' } }, { positionals: 0 });
 */
import { parseArgs } from 'node:util';

/**
 * @param {string} usage the help text
 * @param {import('node:util').ParseArgsConfig['options']} options
 * @param {{ positionals?: number | [number, number] }} [opts] how many positionals: exactly n, or [min, max] (default 0)
 */
export function parseCommand(usage, options, opts = {}) {
  const [min, max] = Array.isArray(opts.positionals) ? opts.positionals : [opts.positionals ?? 0, opts.positionals ?? 0];
  let parsed;
  try {
    parsed = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: max > 0, strict: true });
    if (!parsed.values.help && (parsed.positionals.length < min || parsed.positionals.length > max)) {
      const want = min === max ? `${min}` : `${min} to ${max}`;
      throw new Error(
        `expected ${want} positional argument${max === 1 ? '' : 's'}, got ${parsed.positionals.length}${parsed.positionals.length ? ` (${parsed.positionals.join(' ')})` : ''}`,
      );
    }
  } catch (e) {
    process.stderr.write(`${e.message}\n\n${usage.trim()}\n`);
    process.exit(2);
  }
  if (parsed.values.help) {
    process.stdout.write(`${usage.trim()}\n`);
    process.exit(0);
  }
  return parsed;
}

/** A number option: `Number(value)`, or exit 2 with the usage when it is not a finite number. */
export function numberArg(usage, name, value) {
  const n = Number(value);
  if (value === undefined || value === '' || !Number.isFinite(n)) {
    process.stderr.write(`--${name} must be a number; got ${JSON.stringify(value)}\n\n${usage.trim()}\n`);
    process.exit(2);
  }
  return n;
}

/**
 * A positive option: `Number(value)`, or exit 2 with the usage when it is not a positive number
 * (`integer`: not a positive integer).
 */
export function positiveArg(usage, name, value, { integer = true } = {}) {
  const n = Number(value);
  if (value === undefined || value === '' || !(n > 0) || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    process.stderr.write(
      `--${name} must be a positive ${integer ? 'integer' : 'number'}; got ${JSON.stringify(value)}\n\n${usage.trim()}\n`,
    );
    process.exit(2);
  }
  return n;
}
