/**
 * The `var` program: commander wiring, exit codes and SIGINT handling.
 */
import { Command, CommanderError } from 'commander';
import { bench } from './commands/bench.js';
import { codecCommands } from './commands/codec.js';
import { convertCommand } from './commands/convert.js';
import { editCommand } from './commands/edit.js';
import { evalCommand } from './commands/eval.js';
import { generateCommand } from './commands/generate.js';
import { infoCommand } from './commands/info.js';
import { trainCommand } from './commands/train.js';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, describeError } from './errors.js';
import { Ui, processIo, type Ctx, type Io } from './ui.js';

export const VERSION = '0.1.0';

export function buildProgram(ctx: Ctx): Command {
  const program = new Command('var')
    .description(
      'VAR (visual autoregressive modeling, next-scale prediction) on TensorFlow.js: generate, edit, tokenize, convert, evaluate',
    )
    .version(VERSION, '-V, --version')
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => ctx.io.stdout(s),
      writeErr: (s) => ctx.io.stderr(s),
      outputError: (s, write) => write(s.startsWith('error:') ? `var: ${s}` : s),
    })
    .exitOverride()
    .addHelpText(
      'after',
      `
Examples:
  $ var generate --class 3,7 --count 4 --seed 1 --out digits
  $ var edit digit.png --rect 0,0,0.5,1 --class 8 --out edited.png --strip strip.png
  $ var encode digit.png --out tokens.safetensors && var decode tokens.safetensors --out back.png
  $ var convert var_d16.pth var_d16.safetensors --float16 --preset d16
  $ var info                # bundled models, backends available here and the one auto picks

Exit codes: 0 ok, 1 error (message on one line; --verbose for details), 2 usage error, 130 interrupted.`,
    );
  const cmds: (Command | null)[] = [
    generateCommand(ctx),
    editCommand(ctx),
    ...codecCommands(ctx),
    convertCommand(ctx),
    trainCommand(ctx),
    evalCommand(ctx),
    infoCommand(ctx),
    bench(ctx),
  ];
  const setup = (c: Command) => {
    c.exitOverride().configureOutput({
      writeOut: (s) => ctx.io.stdout(s),
      writeErr: (s) => ctx.io.stderr(s),
      outputError: (s, write) => write(s.startsWith('error:') ? `var: ${s}` : s),
    });
    c.showSuggestionAfterError(true);
    c.commands.forEach(setup);
  };
  for (const c of cmds) {
    if (!c) continue;
    setup(c);
    program.addCommand(c);
  }
  return program;
}

/**
 * Run the CLI in-process with `argv` (without `node` and the script) and return the exit
 * code. Never calls process.exit; output goes through `io`.
 */
export async function run(argv: string[], io: Io): Promise<number> {
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  const ctx: Ctx = { io, ui: (o) => new Ui(io, o) };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help / version print and succeed; every other commander error is a usage error
      // explicit --help / --version succeed; help shown because no command was given is a usage error
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT_OK;
      if (err.exitCode === 0) return EXIT_OK;
      return EXIT_USAGE;
    }
    const d = describeError(err);
    // the reader of stdout went away (`var … | head`): stopping is what was asked for, quietly
    if (io.stdoutClosed?.() && d.code === EXIT_INTERRUPTED) return EXIT_OK;
    io.stderr(`var: error: ${d.message}\n`);
    if (d.hint) io.stderr(`var: hint: ${d.hint}\n`);
    if (verbose && d.detail && d.detail !== d.message) io.stderr(`${d.detail}\n`);
    if (verbose && err instanceof Error && err.stack && !d.detail?.includes(err.stack)) io.stderr(`${err.stack}\n`);
    return d.code;
  }
}

/**
 * The bin's entry: process I/O; SIGINT aborts the running command (no partial files, exit 130);
 * a closed stdout (`var info | head -1`) aborts it too and exits 0 without a word.
 */
export async function main(argv: string[]): Promise<number> {
  const ac = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write('\nvar: stopping (Ctrl-C again to quit now)…\n');
    ac.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const io = processIo(ac.signal, () => ac.abort());
    const code = await run(argv, io);
    return io.stdoutClosed?.() && code === EXIT_INTERRUPTED ? EXIT_OK : code;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
