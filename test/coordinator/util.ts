// Helpers for the coordinator tests: free ports, polling, raw protocol
// connections, and a user-started `stasis coordinator` in the foreground.
import { execa } from 'execa';
import { createServer, connect, type Socket } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Running, stasisBin } from '../helpers/stasis.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

export function killPid(pid: number | null | undefined): void {
  if (!pid) return;
  try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
}

/** Polls `cond` every 50 ms until it holds; throws `what` after `timeoutMs`. */
export async function waitUntil(cond: () => boolean, what: string, timeoutMs = 20000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(everyMs);
  }
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', () => res()));
  const port = (s.address() as { port: number }).port;
  await new Promise((res) => s.close(res));
  return port;
}

export function readJson<T = Record<string, unknown>>(file: string): T | null {
  if (!existsSync(file)) return null;
  try { return JSON.parse(readFileSync(file, 'utf8')) as T; } catch { return null; }
}

/** A raw protocol connection: send lines, read lines, see the close. */
export class LineClient {
  readonly lines: string[] = [];
  closed = false;
  private partial = '';
  private constructor(readonly sock: Socket) {
    sock.setEncoding('latin1');
    sock.on('data', (c: string) => {
      this.partial += c;
      const parts = this.partial.split('\n');
      this.partial = parts.pop() ?? '';
      this.lines.push(...parts);
    });
    sock.on('error', () => undefined);
    sock.on('close', () => { this.closed = true; });
  }

  static async open(port: number, host = '127.0.0.1'): Promise<LineClient> {
    const sock = await new Promise<Socket>((res, rej) => {
      const s = connect(port, host, () => res(s));
      s.once('error', rej);
    });
    return new LineClient(sock);
  }

  send(text: string): void { this.sock.write(text); }

  async line(timeoutMs = 5000): Promise<string> {
    await waitUntil(() => this.lines.length > 0 || this.closed, 'a line from the coordinator', timeoutMs);
    const l = this.lines.shift();
    if (l === undefined) throw new Error('connection closed without a line');
    return l;
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    await waitUntil(() => this.closed, 'the coordinator closed the connection', timeoutMs);
  }

  destroy(): void { this.sock.destroy(); }
}

/** `stasis coordinator` in the foreground, as a user starts it. */
export async function startCoordinator(dir: string, extra: string[] = []): Promise<{ run: Running; port: number; pid: number; token: string }> {
  const run = new Running(execa('node', [stasisBin, 'coordinator', '--ckpt-dir', dir, ...extra],
    { buffer: false, reject: false, stdin: 'ignore' }));
  const m = await run.waitFor(/^stasis coordinator listening on 127\.0\.0\.1:(\d+) /, 20000);
  const token = readFileSync(join(dir, 'token'), 'utf8').trim();
  return { run, port: Number(m[1]), pid: run.pid, token };
}
