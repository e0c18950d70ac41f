// The Debian 13 chroot the core suite runs in (test/trixie/setup.sh makes
// it): what is mounted into it for a run, and how it is all taken down.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { repoRoot } from '../helpers/stasis.js';

export const setupScript = join(repoRoot, 'test', 'trixie', 'setup.sh');

export interface Ready { ok: true; root: string; glibc: string; seconds: number }
export interface Unavailable { ok: false; reason: string }

/** Runs setup.sh (instant when the chroot is cached). */
export function ensureChroot(): Ready | Unavailable {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not root: the chroot needs debootstrap, chroot and mount' };
  const t0 = Date.now();
  const r = spawnSync('bash', [setupScript], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30 * 60 * 1000 });
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  const m = /^ready (\S+) glibc (\S+)$/.exec(last);
  if (r.status === 0 && m) return { ok: true, root: m[1]!, glibc: m[2]!, seconds: (Date.now() - t0) / 1000 };
  const why = /^unavailable: (.*)$/.exec(last)?.[1]
    ?? `setup.sh exited ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`;
  return { ok: false, reason: why };
}

interface MountRow { id: number; point: string }

function mountinfo(): MountRow[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').trim().split('\n').map((l) => {
    const f = l.split(' ');
    return { id: Number(f[0]), point: f[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))) };
  });
}

/** Mounts at or below `dir` (deepest first). */
export function mountsUnder(dir: string): MountRow[] {
  return mountinfo().filter((m) => m.point === dir || m.point.startsWith(dir + '/'))
    .sort((a, b) => b.point.length - a.point.length || b.id - a.id);
}

function umount(point: string): void {
  if (spawnSync('umount', [point], { stdio: 'ignore' }).status === 0) return;
  // Busy (a process that outlived its test still sits inside): detach it
  // from the tree now; the kernel frees it when the last user goes.
  execFileSync('umount', ['-l', point], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * What one test run mounts into the chroot, recorded in a file next to it
 * so that a later run can take down what a run killed before its after
 * hook left (by mount id: concurrent runs stack their own mounts).
 */
export class Mounts {
  readonly made: MountRow[] = [];
  private readonly record: string;

  constructor(readonly root: string) {
    this.record = join(dirname(root), `${root.split('/').pop()}.mounts.${process.pid}`);
  }

  /** Takes down mounts recorded by runs whose process is gone. */
  static reapDead(root: string): string[] {
    const dir = dirname(root), prefix = `${root.split('/').pop()}.mounts.`;
    const reaped: string[] = [];
    for (const f of existsSync(dir) ? readdirSync(dir) : []) {
      if (!f.startsWith(prefix)) continue;
      const pid = Number(f.slice(prefix.length));
      try { process.kill(pid, 0); continue; } catch { /* dead */ }
      const rows = JSON.parse(readFileSync(join(dir, f), 'utf8')) as MountRow[];
      const live = new Set(mountinfo().map((m) => m.id));
      for (const m of rows.slice().reverse()) if (live.has(m.id)) { umount(m.point); reaped.push(m.point); }
      rmSync(join(dir, f), { force: true });
    }
    return reaped;
  }

  /** Mounts `args` at `at` (inside the chroot) and remembers the new mount. */
  mount(args: string[], at: string): void {
    mkdirSync(at, { recursive: true });
    const before = new Set(mountinfo().map((m) => m.id));
    execFileSync('mount', [...args, at], { stdio: ['ignore', 'ignore', 'pipe'] });
    const row = mountinfo().find((m) => m.point === at && !before.has(m.id));
    if (!row) throw new Error(`mount ${args.join(' ')} ${at}: no new mount appeared`);
    this.made.push(row);
    writeFileSync(this.record, JSON.stringify(this.made));
  }

  /** `host` at the same path inside the chroot. */
  bind(host: string, readOnly = false): void {
    const at = join(this.root, host);
    this.mount(['--bind', host], at);
    if (readOnly) execFileSync('mount', ['-o', 'remount,bind,ro', at], { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  /** Unmounts everything this run mounted, last first; throws at the end if any stayed. */
  unmountAll(): void {
    const errors: string[] = [], left: MountRow[] = [];
    for (const m of this.made.splice(0).reverse()) {
      if (!mountinfo().some((x) => x.id === m.id)) continue;
      try { umount(m.point); } catch (e) {
        left.unshift(m);
        errors.push(`${m.point}: ${(e as { stderr?: Buffer }).stderr?.toString().trim() ?? e}`);
      }
    }
    // What could not be unmounted stays recorded for the next run to reap.
    if (left.length) writeFileSync(this.record, JSON.stringify(left)); else rmSync(this.record, { force: true });
    if (errors.length) throw new Error(`could not unmount ${errors.join('; ')}`);
  }

  /** Whether another live test run has mounts in this chroot now. */
  othersLive(): boolean {
    const dir = dirname(this.root), prefix = `${this.root.split('/').pop()}.mounts.`;
    return readdirSync(dir).some((f) => {
      if (!f.startsWith(prefix) || f === this.record.split('/').pop()) return false;
      try { process.kill(Number(f.slice(prefix.length)), 0); return true; } catch { return false; }
    });
  }
}
