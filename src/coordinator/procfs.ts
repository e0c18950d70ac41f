// What this host's kernel says about a process of the job.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { hostname } from 'node:os';

/** The state letter /proc gives `pid` (R, S, Z...), null if it cannot be read. */
function procState(pid: number): string | null {
  try { return /^\d+ \(.*\) (\S) /s.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1] ?? null; } catch { return null; }
}

/** True while `pid` exists and has not ended (a zombie has ended). */
export function runningNotZombie(pid: number): boolean {
  const s = procState(pid);
  return s !== null && s !== 'Z' && s !== 'X';
}

/** `pid` has ended and waits to be reaped. */
export function isZombie(pid: number): boolean {
  const s = procState(pid);
  return s === 'Z' || s === 'X';
}

/**
 * A process whose connection closed but which still runs here is in
 * exec(): its new image connects in a moment (the same kernel pid).
 */
export function isExecing(host: string, kernelPid: number): boolean {
  return host === hostname() && runningNotZombie(kernelPid);
}

export function isLocal(host: string): boolean {
  return host === hostname();
}

export function commOf(pid: number): string {
  try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return '?'; }
}

/** An ELF executable without a program interpreter: the dynamic loader never runs, nor libstasis. */
function isStaticElf(pid: number): boolean {
  let fd = -1;
  try {
    fd = openSync(`/proc/${pid}/exe`, 'r');
    const head = Buffer.alloc(64);
    if (readSync(fd, head, 0, 64, 0) < 64 || head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2) return false;
    const phoff = Number(head.readBigUInt64LE(32));
    const phentsize = head.readUInt16LE(54);
    const phnum = head.readUInt16LE(56);
    const table = Buffer.alloc(phentsize * phnum);
    readSync(fd, table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) if (table.readUInt32LE(i * phentsize) === 3 /* PT_INTERP */) return false;
    return true;
  } catch { return false; } finally { if (fd >= 0) closeSync(fd); }
}

/** Runs with effective ids other than its real ones (set-ID exec): the loader is in secure mode. */
function isSetId(pid: number): boolean {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return ['Uid', 'Gid'].some((k) => {
      const ids = new RegExp(`^${k}:\\s+(\\d+)\\s+(\\d+)`, 'm').exec(status);
      return ids !== null && ids[1] !== ids[2];
    });
  } catch { return false; }
}

/**
 * Why a live process here will never join the job by itself, or null when
 * it may still (libstasis is, or will be, loaded and configured).
 */
export function cannotJoin(pid: number): string | null {
  if (isStaticElf(pid)) return 'it runs a statically linked program, which libstasis cannot enter';
  if (isSetId(pid)) return 'it runs a set-user-ID or set-group-ID program, for which the loader ignores LD_PRELOAD';
  let env: string[];
  try { env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0'); } catch { return null; }
  const preload = env.find((e) => e.startsWith('LD_PRELOAD='));
  if (!preload || !preload.includes('libstasis')) return 'it was started without libstasis in LD_PRELOAD';
  if (!env.some((e) => e.startsWith('STASIS_COORD='))) return 'it was started without STASIS_COORD';
  return null;
}

/** Is libstasis mapped into the process (it runs, but has not joined)? */
export function hasLibstasis(pid: number): boolean {
  try { return readFileSync(`/proc/${pid}/maps`, 'latin1').includes('libstasis'); } catch { return false; }
}
