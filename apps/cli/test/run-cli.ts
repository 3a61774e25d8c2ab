import { run, type Io } from '../src/index.js';

/** Run the CLI in process with `cwd` as its working directory; captures stdout/stderr. */
export async function runCli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: Io = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), isTTY: false, cwd };
  const code = await run(args, io);
  return { code, stdout, stderr };
}
