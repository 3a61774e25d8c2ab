import { describe, expect, it } from 'vitest';
import { runProcess } from '../src/index.js';

describe('runProcess', () => {
  it('returns the exit status and both outputs, passes stdin, and leaves the event loop running meanwhile', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 20);
    const r = await runProcess(
      process.execPath,
      [
        '-e',
        "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{setTimeout(()=>{console.log('out:'+s);console.error('err');process.exit(3)},400)})",
      ],
      { input: 'hello' },
    );
    clearInterval(timer);
    expect(r).toMatchObject({ status: 3, signal: null, stdout: 'out:hello\n', stderr: 'err\n' });
    expect(r.error).toBeUndefined();
    expect(ticks).toBeGreaterThan(5); // a synchronous spawn would have let none run
  });

  it('reports a command that cannot start, and kills one that outlives its timeout', async () => {
    const missing = await runProcess('/nonexistent/command', []);
    expect(missing.error?.message).toMatch(/ENOENT/);
    const t0 = Date.now();
    const slow = await runProcess(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { timeoutMs: 300 });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(slow.signal).toBe('SIGKILL');
    expect(slow.error?.message).toMatch(/timed out after 300 ms/);
  });
});
