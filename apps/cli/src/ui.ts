/**
 * Output conventions of the CLI:
 * - results go to stdout: one line per written file / fact (stable, line-oriented), or with
 *   `--json` exactly one JSON document;
 * - progress goes to stderr: a cli-progress bar on a terminal, nothing otherwise (one line per
 *   step with `--verbose`);
 * - errors go to stderr as one line (details with `--verbose`).
 */
import cliProgress from 'cli-progress';

/** Where the CLI writes; tests pass their own. */
export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Whether stderr is a terminal (progress bars). */
  isTTY: boolean;
  /** Working directory for relative paths. */
  cwd: string;
  /** Aborted on SIGINT (and when stdout is closed by its reader). */
  signal?: AbortSignal;
  /** True once the reader of stdout went away (`var info | head -1`): the run then ends quietly. */
  stdoutClosed?: () => boolean;
}

/** Whether a stream error means "the reader closed the pipe" (not a failure of ours). */
export function isClosedPipe(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED' || code === 'ERR_STREAM_WRITE_AFTER_END';
}

/**
 * The process's streams. Once stdout's reader is gone (EPIPE), `onStdoutClosed` runs once and
 * later writes are dropped; a closed stderr is ignored the same way (no EPIPE stack trace).
 */
export function processIo(signal?: AbortSignal, onStdoutClosed?: () => void): Io {
  let outClosed = false;
  let errClosed = false;
  const closeOut = () => {
    if (outClosed) return;
    outClosed = true;
    onStdoutClosed?.();
  };
  process.stdout.on('error', (e) => {
    if (isClosedPipe(e)) closeOut();
    else errClosed || process.stderr.write(`var: error: cannot write to stdout: ${(e as Error).message}\n`);
  });
  process.stderr.on('error', (e) => {
    if (isClosedPipe(e)) errClosed = true;
  });
  const write = (stream: NodeJS.WriteStream, t: string, closed: () => boolean, onClosed: () => void) => {
    if (closed()) return;
    try {
      stream.write(t);
    } catch (e) {
      if (isClosedPipe(e)) onClosed();
      else throw e;
    }
  };
  return {
    stdout: (t) => write(process.stdout, t, () => outClosed, closeOut),
    stderr: (t) =>
      write(
        process.stderr,
        t,
        () => errClosed,
        () => void (errClosed = true),
      ),
    stdoutClosed: () => outClosed,
    isTTY: Boolean(process.stderr.isTTY) && process.env.TERM !== 'dumb' && !process.env.CI,
    cwd: process.cwd(),
    signal,
  };
}

export interface UiOptions {
  json?: boolean;
  verbose?: boolean;
}

/** One progress bar. */
export interface Progress {
  update(value: number, detail?: string): void;
  /** Change the total (e.g. once it is known). */
  setTotal(total: number): void;
  stop(): void;
}

export class Ui {
  readonly json: boolean;
  readonly verbose: boolean;
  constructor(
    readonly io: Io,
    opts: UiOptions = {},
  ) {
    this.json = !!opts.json;
    this.verbose = !!opts.verbose;
  }

  private activeBars = 0;
  private held: string[] = [];

  /** A result line (suppressed with --json: the JSON document carries it). Held back while a bar is drawn. */
  line(text: string): void {
    if (this.json) return;
    if (this.activeBars > 0) this.held.push(text);
    else this.io.stdout(`${text}\n`);
  }

  private flush(): void {
    const lines = this.held;
    this.held = [];
    for (const l of lines) this.io.stdout(`${l}\n`);
  }

  /** A diagnostic line on stderr (only with --verbose). */
  debug(text: string): void {
    if (this.verbose) this.io.stderr(`${text}\n`);
  }

  /** A warning on stderr (always). */
  warn(text: string): void {
    this.io.stderr(`var: warning: ${text}\n`);
  }

  /** The JSON document (with --json). */
  result(value: unknown): void {
    if (this.json) this.io.stdout(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** A progress bar on a terminal; line-per-update on stderr with --verbose; otherwise silent. */
  progress(label: string, total: number): Progress {
    if (this.io.isTTY) {
      const bar = new cliProgress.SingleBar(
        {
          format: `${label.padEnd(10)} [{bar}] {value}/{total} {detail}`,
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: false,
          etaBuffer: 20,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0, { detail: '' });
      this.activeBars++;
      let stopped = false;
      return {
        update: (v, detail = '') => bar.update(v, { detail }),
        setTotal: (t) => bar.setTotal(t),
        stop: () => {
          if (stopped) return;
          stopped = true;
          bar.stop();
          if (--this.activeBars === 0) this.flush();
        },
      };
    }
    let t = total;
    return {
      update: (v, detail) => {
        if (this.verbose) this.io.stderr(`${label} ${v}/${t}${detail ? ` ${detail}` : ''}\n`);
      },
      setTotal: (n) => {
        t = n;
      },
      stop: () => undefined,
    };
  }
}

/** What every command gets: the I/O and a way to make its Ui from its options. */
export interface Ctx {
  io: Io;
  ui(o: UiOptions): Ui;
}
