// How commands find a running coordinator: `<ckpt-dir>/coordinator.json`
// (host, port, pid) and `<ckpt-dir>/token` (mode 0600), or --coord H:P
// with STASIS_TOKEN / --token-file from anywhere.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { spawnSync } from 'node:child_process';
import { isZombie } from './procfs.js';

export interface CoordAddress { host: string; port: number }
/** `node`: the host (uname) it runs on, where `pid` means something. */
/** `flushing`: its job is gone; it copies the last local generation to the store before it exits (--local-dir). */
export interface Published extends CoordAddress { pid: number; private?: boolean; node?: string; flushing?: boolean }

export const COORD_FILE = 'coordinator.json';
export const TOKEN_FILE = 'token';

export function newToken(): string {
  return randomBytes(32).toString('hex');
}

function writeAtomic(path: string, data: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, path);
}

export function publish(dir: string, info: Published, token: string): void {
  writeAtomic(join(dir, TOKEN_FILE), `${token}\n`);
  writeAtomic(join(dir, COORD_FILE), `${JSON.stringify({ ...info, node: hostname() })}\n`);
}

/** Removes coordinator.json if it still describes this process. */
export function unpublish(dir: string): void {
  const f = join(dir, COORD_FILE);
  const cur = readPublished(dir);
  if (cur && cur.pid === process.pid && (!cur.node || cur.node === hostname())) rmSync(f, { force: true });
}

/**
 * Whether `pid` (of this host) has not ended. A zombie has: until whoever
 * adopted it reaps it (a subreaper may take its time), kill(pid, 0) still
 * finds it.
 */
export function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false; }
  return !isZombie(pid);
}

export function readPublished(dir: string): Published | null {
  const f = join(dir, COORD_FILE);
  if (!existsSync(f)) return null;
  try {
    const j = JSON.parse(readFileSync(f, 'utf8')) as Published;
    return typeof j.port === 'number' && typeof j.pid === 'number' ? j : null;
  } catch { return null; }
}

/**
 * Why `dir`'s coordinator.json names no coordinator although it exists
 * (unreadable, not JSON, not in its shape), or null (missing, or fine).
 */
export function publishedProblem(dir: string): string | null {
  const f = join(dir, COORD_FILE);
  let text: string;
  try { text = readFileSync(f, 'utf8'); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? null : `${f} is unreadable (${code ?? (e as Error).message})`;
  }
  try {
    const j = JSON.parse(text) as Partial<Published>;
    if (j && typeof j.port === 'number' && typeof j.pid === 'number') return null;
  } catch { /* reported below */ }
  return `${f} is corrupt (not the {"host","port","pid"} a coordinator writes)`;
}

/**
 * Whether a published coordinator still runs: its pid, on its own node; a
 * coordinator on another node (a pid there means nothing here) is asked
 * with a TCP connection, given up after `ms`.
 */
export function publishedAlive(p: Published, ms = 2000): boolean {
  if (!p.node || p.node === hostname()) return pidAlive(p.pid);
  const probe = `const s=require('net').connect(${JSON.stringify(p.port)},${JSON.stringify(p.host)},()=>process.exit(0));`
    + `s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(1),${ms}).unref()`;
  return spawnSync(process.execPath, ['-e', probe], { stdio: 'ignore', timeout: ms + 3000 }).status === 0;
}

/** A coordinator that published itself in `dir` and still runs, else null. */
export function liveCoordinator(dir: string): Published | null {
  const p = readPublished(dir);
  return p && publishedAlive(p) ? p : null;
}

export function readToken(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new Error(`cannot read the job token ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export function parseAddress(s: string): CoordAddress {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(s);
  if (!m || !m[1] || Number(m[2]) <= 0 || Number(m[2]) > 65535) throw new Error(`bad coordinator address '${s}' (want HOST:PORT)`);
  return { host: m[1], port: Number(m[2]) };
}

export function formatAddress(a: CoordAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
