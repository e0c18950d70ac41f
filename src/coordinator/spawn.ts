// A private coordinator for one launch or restart. The caller binds the
// listening socket itself and hands it to the detached coordinator, so the
// program can be started at once: connections wait in the socket's backlog
// until the coordinator (a second Node process) is up. It exits when its
// processes are gone, or when its owner died before any connected.
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { detachPath, repoRoot } from '../native.js';
import type { CoordinatorArgs } from './run.js';
import { formatAddress, liveCoordinator, newToken, pidAlive, publish, type CoordAddress } from './publish.js';

export interface PrivateOptions {
  ckptDir: string;
  interval?: number;
  keep?: number;
  expect?: number;
  host?: string;
  port?: number;   // 0 or unset: any free port
  restoreFrom?: string;   // a restart: the generation whose named images are awaited
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The private coordinator of a job that just ended may still be leaving;
 * one flushing its last local generation to D (--local-dir) is waited for
 * up to 10 minutes more: the restart may need that generation.
 */
export async function waitForPrevious(dir: string, seconds = 5): Promise<void> {
  for (let i = 0, flushing = 0; ; i++) {
    const live = liveCoordinator(dir);
    if (!live || (live.pid === process.pid && live.node === hostname())) return;
    if (live.flushing && flushing++ < 6000) { i--; await sleep(100); continue; }
    if (i >= seconds * 10) throw new Error(`a coordinator (pid ${live.pid}) already serves ${dir} at ${formatAddress(live)}`);
    await sleep(100);
  }
}

function listen(host: string, port: number): Promise<Server> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE'
      ? new Error(`cannot listen on ${host}:${port}: port ${port} is in use (EADDRINUSE)`) : e));
    server.listen(port, host, () => resolve(server));
  });
}

export interface StartedCoordinator { address: CoordAddress; token: string; pid: number }

export async function startPrivateCoordinator(o: PrivateOptions): Promise<StartedCoordinator> {
  await waitForPrevious(o.ckptDir);
  const host = o.host ?? '127.0.0.1';
  const server = await listen(host, o.port ?? 0);
  const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('cannot hand the listening socket to the coordinator');
  const port = (server.address() as { port: number }).port;
  const token = newToken();
  const options: CoordinatorArgs = {
    ckptDir: o.ckptDir, host, port: 0, interval: o.interval ?? 0, keep: o.keep ?? 0, expect: o.expect ?? 0,
    private: true, ownerPid: process.pid, listenFd: 3, timeout: 300, alertFd: 4, restoreFrom: o.restoreFrom,
  };
  const args = [join(repoRoot, 'dist', 'src', 'coordinator', 'private-main.js'), JSON.stringify(options)];
  const log = openSync(join(o.ckptDir, 'coordinator.log'), 'a', 0o600);
  // Not our child: we are about to become the user's program (see native/launch/detach.c).
  const started = spawnSync(detachPath, [process.execPath, ...args], {
    // fd 4: our stderr, the job's, where failed interval checkpoints are shown.
    stdio: ['ignore', 'pipe', log, fd, 2], env: { ...process.env, STASIS_COORD_TOKEN: token }, encoding: 'utf8',
  });
  closeSync(log);
  const pid = Number(started.stdout?.trim());
  if (started.status !== 0 || !(pid > 0)) throw new Error(`cannot start the coordinator: ${started.error?.message ?? `see ${join(o.ckptDir, 'coordinator.log')}`}`);
  publish(o.ckptDir, { host, port, pid, private: true }, token);
  server.close();
  return { address: { host, port }, token, pid };
}

/** A coordinator started for a restart that will not happen (its generation did not verify): stopped, and gone when this returns. */
export async function stopPrivateCoordinator(c: StartedCoordinator): Promise<void> {
  try { process.kill(c.pid, 'SIGTERM'); } catch { return; }
  for (let i = 0; i < 100; i++) {
    if (!pidAlive(c.pid)) return;
    await sleep(20);
  }
  try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
}
