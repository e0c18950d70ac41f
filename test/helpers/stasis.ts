// Runs the real stasis CLI and real checkpointed programs for end-to-end tests.
import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const stasisBin = join(repoRoot, 'bin', 'stasis.js');
export const programs = join(repoRoot, 'native', 'build', 'programs');

/** A running process whose stdout lines are collected as they arrive. */
export class Running {
  readonly lines: string[] = [];
  readonly errLines: string[] = [];
  private waiters: Array<() => void> = [];
  exited = false;
  exitCode: number | null = null;

  constructor(readonly proc: ResultPromise) {
    const collect = (into: string[]) => {
      let partial = '';
      return (chunk: Buffer) => {
        partial += chunk.toString();
        const parts = partial.split('\n');
        partial = parts.pop() ?? '';
        into.push(...parts);
        this.wake();
      };
    };
    proc.stdout?.on('data', collect(this.lines));
    proc.stderr?.on('data', collect(this.errLines));
    proc.then(
      (r) => this.onExit(r.exitCode ?? null),
      (e: { exitCode?: number }) => this.onExit(e.exitCode ?? null),
    );
  }

  get pid(): number {
    if (!this.proc.pid) throw new Error('process has no pid');
    return this.proc.pid;
  }

  private onExit(code: number | null) {
    this.exited = true;
    this.exitCode = code;
    this.wake();
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  /** Waits until a line satisfies `match` (searching from line `from`). */
  async waitFor(match: RegExp, timeoutMs = 20000, from = 0): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = from; i < this.lines.length; i++) {
        const m = this.lines[i]!.match(match);
        if (m) return m;
      }
      if (this.exited) throw new Error(`exited (${this.exitCode}) before ${match}: ${this.tail()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${match}: ${this.tail()}`);
      await new Promise<void>((res) => {
        const t = setTimeout(res, left);
        this.waiters.push(() => { clearTimeout(t); res(); });
      });
    }
  }

  /** Resolves when the process has exited. */
  async waitExit(timeoutMs = 20000): Promise<number | null> {
    const deadline = Date.now() + timeoutMs;
    while (!this.exited) {
      if (Date.now() > deadline) throw new Error(`process ${this.proc.pid} did not exit`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.exitCode;
  }

  tail(): string {
    return `stdout: ${this.lines.slice(-3).join(' | ')}; stderr: ${this.errLines.slice(-5).join(' | ')}`;
  }

  async kill9(): Promise<void> {
    if (!this.exited && this.proc.pid) {
      try { process.kill(this.proc.pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    await this.waitExit();
  }
}

/** The job's stdin: a pipe from the test, /dev/null, or a descriptor of the
 * test's (openSync: the file itself; execa's { file } would be a pipe). */
type Stdin = 'pipe' | 'ignore' | number;

/** One checkpoint directory per test, cleaned up with everything it started. */
export class Job {
  readonly dir: string;
  private running: Running[] = [];

  constructor(prefix = 'stasis-test-') {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
  }

  private start(args: string[], env: Record<string, string> = {}, stdin: Stdin = 'ignore'): Running {
    // Run as a program (not `node stasisBin`), as users do: descriptors go
    // through stasis-handover (bin/stasis.js).
    const proc = execa(stasisBin, args, {
      env: { ...env },
      stdin: stdin as 'ignore',   // execa's types list descriptors 3-9 only; any open one works
      buffer: false,
      reject: false,
    });
    const r = new Running(proc);
    this.running.push(r);
    return r;
  }

  /** Any `stasis ARGS` command, ended with the job (e.g. a coordinator several launches join). */
  stasis(args: string[], env: Record<string, string> = {}): Running {
    return this.start(args, env);
  }

  launch(argv: string[], opts: { env?: Record<string, string>; stdin?: Stdin; flags?: string[] } = {}): Running {
    return this.start(['launch', '--ckpt-dir', this.dir, ...(opts.flags ?? []), '--', ...argv], opts.env, opts.stdin);
  }

  /** `stasis run --ckpt-dir DIR [flags] -- argv` (the job driver; the command runs in a session of its own). */
  run(argv: string[], opts: { env?: Record<string, string>; flags?: string[] } = {}): Running {
    return this.start(['run', '--ckpt-dir', this.dir, ...(opts.flags ?? []), '--', ...argv], opts.env);
  }

  restart(target?: string, opts: { stdin?: Stdin; env?: Record<string, string>; flags?: string[] } = {}): Running {
    return this.start(['restart', ...(opts.flags ?? []), target ?? this.dir], opts.env, opts.stdin);
  }

  /** `stasis command --checkpoint --json`; throws with stderr on failure. */
  async checkpoint(): Promise<{ generation: number; dir: string; bytes: number; seconds: number }> {
    const r = await this.cli(['command', '--ckpt-dir', this.dir, '--checkpoint', '--json']);
    if (r.exitCode !== 0) throw new Error(`checkpoint failed (${r.exitCode}): ${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  async cli(args: string[], env: Record<string, string> = {}) {
    return execa('node', [stasisBin, ...args], { reject: false, env, stdin: 'ignore' });
  }

  /** Kernel pids of every process of the job, as its coordinator knows them. */
  async kernelPids(): Promise<number[]> {
    const r = await this.cli(['command', '--ckpt-dir', this.dir, '--status', '--json']);
    if (r.exitCode !== 0) throw new Error(`status failed (${r.exitCode}): ${r.stderr}`);
    return (JSON.parse(r.stdout).clients as Array<{ kernelPid: number }>).map((c) => c.kernelPid);
  }

  /** SIGKILL to every process of the job (by kernel pid), then to `root`. */
  async killTree(root: Running): Promise<void> {
    for (const pid of await this.kernelPids()) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    await root.kill9();
  }

  coordinatorPid(): number | null {
    const f = join(this.dir, 'coordinator.json');
    if (!existsSync(f)) return null;
    try { return JSON.parse(readFileSync(f, 'utf8')).pid ?? null; } catch { return null; }
  }

  /** Ends every process this job started (by PID) and removes its directory. */
  async cleanup(): Promise<void> {
    // The job's processes first: a restart of several trees leaves them outside any command we started.
    if (this.coordinatorPid()) {
      const pids = await this.kernelPids().catch(() => [] as number[]);
      for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    }
    for (const r of this.running) await r.kill9().catch(() => undefined);
    const pid = this.coordinatorPid();
    if (pid) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Integers from lines matching `re` (first capture group), in order. */
/** Test programs print "BROKEN ..." when what they check fails: none may. */
export function noBroken(lines: string[]): void {
  const bad = lines.filter((l) => l.includes('BROKEN'));
  if (bad.length) throw new Error(bad.join('\n'));
}

export function numbers(lines: string[], re: RegExp): number[] {
  return lines.map((l) => l.match(re)).filter((m): m is RegExpMatchArray => !!m).map((m) => Number(m[1]));
}
