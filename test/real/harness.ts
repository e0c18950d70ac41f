// Real programs from Debian's archive, checkpointed and restarted as a user
// would: each workload runs once uninterrupted (the reference) and once under
// `stasis launch`, checkpointed at a random moment, killed (SIGKILL to every
// process of its tree), restarted, and again a second time; the restarted
// run must end with the reference's exit status, stdout and files.
//
// Moments are drawn from a seeded PRNG, as fractions of the reference's
// duration: the seed is in every test title, and STASIS_REAL_SEED=<seed>
// draws the same fractions again (the machine's timing still varies).
import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, readFileSync, readdirSync, lstatSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { repoRoot, stasisBin } from '../helpers/stasis.js';

export const workloads = join(repoRoot, 'test', 'real', 'workloads');
export const suiteSeed = Number(process.env.STASIS_REAL_SEED ?? randomInt(1, 2 ** 31));

/** mulberry32, seeded by the suite seed and the test's name. */
export function prng(name: string, seed = suiteSeed): () => number {
  let a = seed >>> 0;
  for (const c of name) a = Math.imul(a ^ c.charCodeAt(0), 0x9e3779b1) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A started process: its stdout bytes and stderr text as they arrive. */
export class Proc {
  private out: Buffer[] = [];
  err = '';
  exitCode: number | null = null;
  signal: string | null = null;
  exited = false;
  readonly done: Promise<void>;
  readonly started = Date.now();

  constructor(readonly p: ResultPromise) {
    p.stdout?.on('data', (b: Buffer) => this.out.push(b));
    p.stderr?.on('data', (b: Buffer) => { this.err += b.toString(); });
    this.done = p.then(
      (r) => this.onExit(r.exitCode ?? null, r.signal ?? null),
      (e: { exitCode?: number; signal?: string }) => this.onExit(e.exitCode ?? null, e.signal ?? null),
    );
  }

  private onExit(code: number | null, signal: string | null) {
    this.exited = true;
    this.exitCode = code;
    this.signal = signal ?? null;
  }

  get pid(): number { return this.p.pid!; }
  stdout(): Buffer { return Buffer.concat(this.out); }

  async wait(ms: number, what: string): Promise<void> {
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: not done after ${ms} ms; stderr: ${this.err.slice(-800)}`)), ms); });
    try { await Promise.race([this.done, timeout]); } finally { clearTimeout(t); }
  }
}

/** Parent pid of every process, from /proc. */
function parents(): Map<number, number> {
  const m = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      m.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch { /* exited meanwhile */ }
  }
  return m;
}

function tree(root: number): number[] {
  const ppid = parents();
  const found = ppid.has(root) ? [root] : [];
  for (let i = 0; i < found.length; i++) for (const [pid, pp] of ppid) if (pp === found[i]) found.push(pid);
  return found;
}

/**
 * SIGKILL to `root` (a process this test started) and all its descendants.
 * The tree is stopped first, until no new process appears, so nothing forks
 * away between the listing and the kill.
 */
export async function killTree(root: number): Promise<number[]> {
  let seen = new Set<number>();
  for (let pass = 0; pass < 50; pass++) {
    const now = tree(root);
    for (const pid of now) { try { process.kill(pid, 'SIGSTOP'); } catch { /* gone */ } }
    if (now.length === seen.size && now.every((p) => seen.has(p))) break;
    seen = new Set(now);
    await sleep(10);
  }
  for (const pid of seen) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  return [...seen];
}

/** Every file under `dir` (relative paths, directories marked with a slash). */
export function listing(dir: string, under = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, under)).sort()) {
    const rel = under ? `${under}/${name}` : name;
    if (lstatSync(join(dir, rel)).isDirectory()) out.push(`${rel}/`, ...listing(dir, rel));
    else out.push(rel);
  }
  return out;
}

export interface Workload {
  name: string;
  argv: string[];                       // run in the job's directory; argv[0] an absolute path
                                        // (Debian's program, not a wrapper earlier in PATH such as a pyenv shim)
  env?: Record<string, string>;         // what the user sets for this program
  setup?: (dir: string) => void | Promise<void>;  // the job's input files
  outputs?: string[];                   // files whose bytes must equal the reference's
  stdout?: 'compare' | 'ignore';        // ignore: a -j2 build's interleaving
  after?: string[];                     // run in the directory after the job; its output compared
  timeoutMs?: number;
}

export interface RunResult { stdout: Buffer; stderr: string; exitCode: number | null; ms: number; dir: string }

const tmpDirs: string[] = [];
export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tmpDirs.push(d);
  return d;
}
export function removeTempDirs(): void {
  for (const d of tmpDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}
/** A failed run's directories stay for whoever reads the failure (a rare one cannot be asked twice). */
function keepTempDirs(...dirs: string[]): string {
  for (const d of dirs) { const i = tmpDirs.indexOf(d); if (i >= 0) tmpDirs.splice(i, 1); }
  return dirs.filter(Boolean).join(' ');
}

// The user's environment as the test runner has it, plus what the workload sets.
function start(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): Proc {
  return new Proc(execa(cmd, args, { cwd, env, stdin: 'ignore', buffer: false, reject: false }));
}

export async function reference(w: Workload): Promise<RunResult> {
  const dir = tempDir(`stasis-real-${w.name}-ref-`);
  await w.setup?.(dir);
  const p = start(w.argv[0]!, w.argv.slice(1), dir, w.env);
  await p.wait(w.timeoutMs ?? 120000, `${w.name} reference run`);
  return { stdout: p.stdout(), stderr: p.err, exitCode: p.exitCode, ms: Date.now() - p.started, dir };
}

interface Segment { out: Buffer; lo: number }  // lo: bytes received before the checkpoint was asked for

/**
 * Where each run's stdout lies in the reference's: the launched run's is a
 * prefix; each restart's starts at its checkpoint's position, which lies
 * between what was received before the checkpoint was asked for and all
 * that was received before the kill; the last restart's ends the reference.
 * Returns an explanation of the first inconsistency, or null.
 */
export function checkSegments(ref: Buffer, segs: Segment[]): string | null {
  const first = segs[0]!;
  if (!ref.subarray(0, first.out.length).equals(first.out)) return `launched run's stdout is not a prefix of the reference's: ${firstDiff(ref, first.out, 0)}`;
  let starts = [0];
  for (let k = 1; k < segs.length; k++) {
    const prev = segs[k - 1]!, seg = segs[k]!, last = k === segs.length - 1;
    const next: number[] = [];
    for (const s of starts) {
      for (let c = s + prev.lo; c <= s + prev.out.length; c++) {
        if (last ? c + seg.out.length === ref.length && ref.subarray(c).equals(seg.out)
          : ref.subarray(c, c + seg.out.length).equals(seg.out)) next.push(c);
      }
    }
    if (!next.length) {
      // Explain at the start that matches longest.
      const s = starts[0]!;
      let best = s + prev.lo, bestLen = -1;
      for (const s2 of starts) {
        for (let c = s2 + prev.lo; c <= s2 + prev.out.length; c++) {
          const n = common(ref, seg.out, c);
          if (n > bestLen) { best = c; bestLen = n; }
        }
      }
      return `stdout of restart ${k} does not continue the reference from checkpoint ${k} (between byte ${s + prev.lo} and ${s + prev.out.length})` +
        `${last ? ' to its end' : ''}: ${firstDiff(ref, seg.out, best)}`;
    }
    starts = [...new Set(next)];
  }
  return null;
}

function common(ref: Buffer, got: Buffer, at: number): number {
  let i = 0;
  while (i < got.length && at + i < ref.length && got[i] === ref[at + i]) i++;
  return i;
}

function firstDiff(ref: Buffer, got: Buffer, at: number): string {
  const i = common(ref, got, at);
  const line = (b: Buffer, from: number) => JSON.stringify(b.subarray(from > 0 ? b.lastIndexOf(10, from - 1) + 1 : 0, from + 60).toString().split('\n').slice(0, 2).join('\\n'));
  return `got ${got.length} bytes, aligned at reference byte ${at}, first difference at its byte ${i}: got ${line(got, i)}, reference ${line(ref, at + i)} (reference has ${ref.length} bytes)`;
}

export interface CrOptions {
  rounds?: number;           // checkpoint-kill-restart rounds (2)
  log?: (s: string) => void;
}

/**
 * The workload under stasis, checkpointed, killed and restarted `rounds`
 * times at moments drawn from the seeded PRNG, scaled to the reference's
 * duration; then compared with the reference. Throws with what differs.
 */
export async function checkpointKillRestart(w: Workload, ref: RunResult, o: CrOptions = {}): Promise<void> {
  const rand = prng(w.name);
  const rounds = o.rounds ?? 2;
  let dir = '', ckpt = '';
  const T = ref.ms;
  const history: string[] = [`seed ${suiteSeed}, reference ${T} ms`];
  const fail = (msg: string, p?: Proc) => {
    const coord = existsSync(join(ckpt, 'coordinator.log')) ? readFileSync(join(ckpt, 'coordinator.log'), 'utf8').split('\n').slice(-8).join('\n') : '';
    const kept = keepTempDirs(ref.dir, dir, ckpt);
    return new Error(`${w.name}: ${msg}\n  ${history.join('; ')}\n  stderr: ${(p?.err ?? '').slice(-1500)}\n  coordinator.log: ${coord}\n  kept (reference, job, store): ${kept}`);
  };
  let segs: Segment[] = [];
  const procs: Proc[] = [];
  let restarts = 0;
  const launch = async () => {
    dir = tempDir(`stasis-real-${w.name}-cr-`);
    ckpt = tempDir(`stasis-real-${w.name}-ckpt-`);
    await w.setup?.(dir);
    segs = [];
    restarts = 0;
    const q = start('node', [stasisBin, 'launch', '--ckpt-dir', ckpt, '--', ...w.argv], dir, w.env);
    procs.push(q);
    return q;
  };
  const restart = async () => {
    const q = start('node', [stasisBin, 'restart', ckpt], dir);
    procs.push(q);
    // The next moment counts from when the restored job runs again.
    const t = await resumed(ckpt, ++restarts, q);
    history.push(`restart ${restarts} running after ${t - q.started} ms`);
    return { q, t };
  };
  let p = await launch();
  let t0 = await launched(ckpt, p);
  try {
    for (let round = 1; round <= rounds; round++) {
      // Launch: anywhere in the first 45% of the run. A restart resumes with at
      // least 55% left, minus its start-up: within the next 35%.
      const drawn = T * (round === 1 ? 0.1 + 0.35 * rand() : 0.1 + 0.25 * rand());
      const killAfter = Math.round(T * 0.25 * rand());
      let at = Math.round(drawn);
      let lo = 0, asked = 0;
      let ck: Awaited<ReturnType<typeof execa>> | null = null;
      for (;;) {
        await Promise.race([sleep(Math.max(0, t0 + at - Date.now())), p.done]);
        if (!p.exited) {
          lo = p.stdout().length;
          asked = Date.now() - t0;
          ck = await execa('node', [stasisBin, 'command', '--ckpt-dir', ckpt, '--checkpoint', '--json'], { reject: false, stdin: 'ignore', timeout: 60000 });
          // The job may end between the look and the request: then its coordinator is gone too.
          if (ck.exitCode !== 0 && !p.exited) await Promise.race([sleep(2000), p.done]);
          if (ck.exitCode === 0 || !p.exited) break;
        }
        // Ended before the moment drawn: faster than the reference (the
        // machine's load varies), or failed. A complete run must be right;
        // then the same start again (launch, or restart of the same
        // generation), with the moment halved.
        if (p.exitCode !== ref.exitCode) throw fail(`the job ended (exit ${p.exitCode}) before checkpoint ${round} at ${at} ms`, p);
        if (round > 1 && (w.stdout ?? 'compare') === 'compare') {
          const bad = checkSegments(ref.stdout, [...segs, { out: p.stdout(), lo: 0 }]);
          if (bad) throw fail(`(restart ${restarts}, ended before checkpoint ${round}) ${bad}`, p);
        }
        if (at < T / 20) throw fail(`the job ends before it can be checkpointed (${at} ms)`, p);
        history.push(`job ended right (exit ${p.exitCode}) before checkpoint ${round} at ${at} ms: again, at ${Math.round(at / 2)} ms`);
        at = Math.round(at / 2);
        if (round === 1) { p = await launch(); t0 = await launched(ckpt, p); } else ({ q: p, t: t0 } = await restart());
      }
      if (!ck) throw fail(`checkpoint ${round} was never asked for`, p);
      history.push(`checkpoint ${round} at ${asked} ms (drawn ${Math.round(drawn)}), took ${Date.now() - t0 - asked} ms`);
      if (ck.exitCode !== 0) throw fail(`checkpoint ${round} failed (${ck.timedOut ? 'no answer in 60 s' : ck.exitCode}): ${ck.stderr}`, p);
      const gen = JSON.parse(String(ck.stdout)).generation;
      if (gen !== round) throw fail(`checkpoint ${round} committed generation ${gen}`, p);
      await Promise.race([sleep(killAfter), p.done]);
      const killed = await killTree(p.pid);
      history.push(`killed ${killed.length} processes ${killAfter} ms later${p.exited ? ` (job had ended: exit ${p.exitCode})` : ''}`);
      const coord = coordinatorPid(ckpt);
      if (coord) { try { process.kill(coord, 'SIGKILL'); } catch { /* gone */ } }
      await p.wait(20000, `${w.name} killed run ${round}`);
      segs.push({ out: p.stdout(), lo });
      ({ q: p, t: t0 } = await restart());
    }
    await p.wait(w.timeoutMs ?? Math.max(60000, 6 * T), `${w.name} last restart`);
    segs.push({ out: p.stdout(), lo: 0 });
    o.log?.(history.join('; '));
    if (p.exitCode !== ref.exitCode) throw fail(`exit status ${p.exitCode}${p.signal ? ` (${p.signal})` : ''}, reference ${ref.exitCode}`, p);
    if ((w.stdout ?? 'compare') === 'compare') {
      const bad = checkSegments(ref.stdout, segs);
      if (bad) throw fail(bad, p);
    }
    const want = listing(ref.dir), got = listing(dir);
    if (want.join('\n') !== got.join('\n')) {
      throw fail(`files differ: only in reference ${JSON.stringify(want.filter((f) => !got.includes(f)))}, only after restarts ${JSON.stringify(got.filter((f) => !want.includes(f)))}`, p);
    }
    for (const f of w.outputs ?? []) {
      const a = readFileSync(join(ref.dir, f)), b = readFileSync(join(dir, f));
      if (!a.equals(b)) throw fail(`${f} differs: ${firstDiff(a, b, 0)}`, p);
    }
    if (w.after) {
      const a = await execa(w.after[0]!, w.after.slice(1), { cwd: ref.dir, reject: false, stdin: 'ignore' });
      const b = await execa(w.after[0]!, w.after.slice(1), { cwd: dir, reject: false, stdin: 'ignore' });
      if (a.exitCode !== b.exitCode || a.stdout !== b.stdout) {
        throw fail(`${w.after.join(' ')}: exit ${b.exitCode} (reference ${a.exitCode}), output ${JSON.stringify(b.stdout.slice(0, 200))} (reference ${JSON.stringify(a.stdout.slice(0, 200))})`, p);
      }
    }
  } catch (e) {
    // A timeout from wait() says too little alone: add the history, the logs and the kept directories.
    const msg = (e as Error).message;
    throw msg.includes('kept (reference, job, store)') ? e : fail(msg, p);
  } finally {
    for (const q of procs) if (!q.exited) await killTree(q.pid);
    const coord = coordinatorPid(ckpt);
    if (coord) { try { process.kill(coord, 'SIGKILL'); } catch { /* gone */ } }
  }
}

/** When the launched job's first process joined its coordinator (before that a checkpoint finds none). */
async function launched(ckpt: string, p: Proc): Promise<number> {
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline && !p.exited) {
    const log = existsSync(join(ckpt, 'coordinator.log')) ? readFileSync(join(ckpt, 'coordinator.log'), 'utf8') : '';
    if (/ connected$/m.test(log)) return Date.now();
    await sleep(10);
  }
  return Date.now();
}

/** When the coordinator has released the `n`th restart's processes (coordinator.log). */
async function resumed(ckpt: string, n: number, p: Proc): Promise<number> {
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline && !p.exited) {
    const log = readFileSync(join(ckpt, 'coordinator.log'), 'utf8');
    if ((log.match(/restored process\(es\) connected: resuming/g) ?? []).length >= n) return Date.now();
    await sleep(25);
  }
  return Date.now();
}

/** The store's private coordinator, if that pid is still one (a node failure takes it too). */
export function coordinatorPid(ckpt: string): number | null {
  try {
    const pid = JSON.parse(readFileSync(join(ckpt, 'coordinator.json'), 'utf8')).pid;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('private-main') ? pid : null;
  } catch { return null; }
}

/** One mocha test: the reference run, then two checkpoint-kill-restart rounds. */
export function realTest(title: string, w: Workload | (() => Workload)): void {
  it(`${title} (seed ${suiteSeed})`, async function () {
    const wl = typeof w === 'function' ? w() : w;
    const ref = await reference(wl);
    if (ref.exitCode !== 0) throw new Error(`${wl.name}: the reference run failed (${ref.exitCode}): ${ref.stderr.slice(-500)}`);
    await checkpointKillRestart(wl, ref, { log: (s) => process.stderr.write(`      ${wl.name}: ${s}\n`) });
  });
}

/** Deterministic text lines (a fixed generator, not the suite's seed). */
export function textLines(count: number, seed: number): string {
  const r = prng('data', seed);
  const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = 1 + Math.floor(r() * 6);
    const ws = Array.from({ length: n }, () => words[Math.floor(r() * words.length)]);
    out.push(`${Math.floor(r() * 0xffffffff).toString(16).padStart(8, '0')} ${i} ${ws.join(' ')}`);
  }
  return out.join('\n') + '\n';
}
