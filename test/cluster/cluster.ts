// A real Slurm cluster for mocha suites: `useCluster()` brings it up once
// (up.sh) before the suite and always tears it down (down.sh) after, even
// when a test or the bring-up fails. Without root, `ip netns` or Slurm the
// suite is skipped with the reason printed — never silently.
import { execa } from 'execa';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readdirSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout: this file runs from dist/test/cluster/. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const scriptsDir = join(repoRoot, 'test', 'cluster');
export const stasisBin = join(repoRoot, 'bin', 'stasis.js');
/** STASIS_CLUSTER_ID (0-9) selects one of several side-by-side clusters (lib.sh). */
const clusterId = process.env.STASIS_CLUSTER_ID && process.env.STASIS_CLUSTER_ID !== '0' ? process.env.STASIS_CLUSTER_ID : '';
/** What up.sh names this cluster's bridge, veths (host ends) and network namespaces (lib.sh). */
export const linkNames = {
  bridge: `stasisbr${clusterId || '0'}`,
  veth: (node: string) => `stasis-v${clusterId}${node.replace(/^n/, '')}`,
  netns: (node: string) => `stasis${clusterId}-${node}`,
};
export const stateDir = process.env.STASIS_CLUSTER_DIR ?? `/tmp/stasis-cluster${clusterId ? `-${clusterId}` : ''}`;

export interface Cluster {
  dir: string;
  /** Shared by every node (the state dir is visible everywhere): job scripts and outputs go here. */
  shared: string;
  nodes: string[];
  /** Node name → its IP on the test bridge. */
  addrs: Map<string, string>;
  /** Environment for Slurm commands (SLURM_CONF …), on top of process.env. */
  env: NodeJS.ProcessEnv;
  /** Wall time up.sh measured from start to every node idle and sshd answering. */
  upSeconds: number;
}

let current: Cluster | null = null;

/** The running cluster; throws outside a `useCluster()` suite. */
export function cluster(): Cluster {
  if (!current) throw new Error('no test cluster: call useCluster() in the describe block');
  return current;
}

/** Why this machine cannot run the cluster, or null when it can. */
export async function whyNotRunnable(): Promise<string | null> {
  if (process.platform !== 'linux') return `needs Linux, this is ${process.platform}`;
  if (process.getuid?.() !== 0) return 'needs root (network and mount namespaces, daemons as root)';
  const netns = await execa('ip', ['netns', 'list'], { reject: false });
  if (netns.exitCode !== 0) return `\`ip netns\` unavailable: ${netns.stderr || netns.shortMessage}`;
  for (const bin of ['/usr/sbin/slurmctld', '/usr/sbin/slurmd', '/usr/sbin/munged', '/usr/sbin/sshd']) {
    if (!existsSync(bin)) return `${bin} is not installed (scripts/install-deps.sh)`;
  }
  return null;
}

/** Reads the `export K='V'` lines up.sh writes. */
export function readEnvFile(path: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of readFileSync(path, 'utf8').matchAll(/^export (\w+)='([^']*)'$/gm)) {
    env[m[1] as string] = m[2] as string;
  }
  return env;
}

export async function up(): Promise<Cluster> {
  const r = await execa(join(scriptsDir, 'up.sh'), { reject: false, all: true });
  if (r.exitCode !== 0) throw new Error(`up.sh failed (${r.exitCode}):\n${r.all}`);
  const vars = readEnvFile(join(stateDir, 'env'));
  const need = (k: string): string => {
    const v = vars[k];
    if (v === undefined) throw new Error(`${stateDir}/env has no ${k}`);
    return v;
  };
  const addrs = new Map(need('STASIS_CLUSTER_ADDRS').split(' ').map((kv) => kv.split('=') as [string, string]));
  current = {
    dir: need('STASIS_CLUSTER_DIR'),
    shared: need('STASIS_CLUSTER_SHARED'),
    nodes: need('STASIS_CLUSTER_NODES').split(' '),
    addrs,
    env: { ...process.env, ...vars },
    upSeconds: Number(need('STASIS_CLUSTER_UP_SECONDS')),
  };
  return current;
}

/** down.sh's verdict: exit code and its one-line report. */
export async function down(): Promise<{ exitCode: number; output: string }> {
  current = null;
  const r = await execa(join(scriptsDir, 'down.sh'), { reject: false, all: true });
  return { exitCode: r.exitCode ?? -1, output: r.all ?? '' };
}

/** Registers before/after hooks that bring the cluster up for the enclosing describe. */
export function useCluster(): void {
  let started = false;
  before(async function () {
    this.timeout(90_000);
    const why = await whyNotRunnable();
    if (why) {
      console.log(`    skipped: real Slurm cluster tests: ${why}`);
      this.skip();
    }
    started = true; // from here on, always tear down, even if up.sh fails half-way
    await up();
  });
  afterEach(async function () {
    if (started && this.currentTest?.state === 'failed') await keepFailedState(this.currentTest.title);
  });
  after(async function () {
    this.timeout(60_000);
    if (!started) return;
    const r = await down();
    if (r.exitCode !== 0) throw new Error(`down.sh left things behind:\n${r.output}`);
  });
}

/**
 * The next suite's up.sh wipes the state dir: after a failed test, its logs
 * and shared dir (job outputs, stasis logs, manifests and the images' side
 * files: sockets, pipes, shared memory; images and .data files left out for
 * their size) are copied aside, and the copy's path printed.
 */
async function keepFailedState(title: string): Promise<void> {
  const kept = `${stateDir}-failed-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const r = await execa('sh', ['-c', 'mkdir -p "$2" && cd "$1" && find log shared -type f ! -name "*.img" ! -name "*.data" -size -64M -print0 | tar --null -T - -cf - | tar -xf - -C "$2"',
    'sh', stateDir, kept], { reject: false });
  console.log(`    kept the cluster's logs and shared dir of the failed test "${title.slice(0, 60)}" in ${kept}${r.exitCode ? ` (copy: ${r.stderr})` : ''}`);
}

/** Runs a Slurm (or Torque wrapper) command against the test cluster; throws on failure. */
export async function slurm(cmd: string, args: string[]): Promise<string> {
  const c = cluster();
  const r = await execa(cmd, args, { env: c.env, cwd: c.shared, reject: false, all: true });
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.exitCode}): ${r.all}`);
  return r.stdout;
}

/**
 * Runs `file args` inside node `node`: in every namespace the node's
 * daemons live in (network, mount, UTS, IPC and pid: the anchor is the
 * node's init, and nsenter forks the command into its pid namespace), as a
 * process sshd started there would be — without ssh, and like sshd's
 * children with no descriptor above stderr (whatever this test process
 * inherited stays here). The result as execa gives it.
 */
export async function onNode(node: string, file: string, args: string[] = [],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeout?: number } = {}): Promise<NodeResult> {
  const c = cluster();
  const anchor = readFileSync(join(c.dir, 'run', `node-${node}.anchor`), 'utf8').trim();
  if (!/^\d+$/.test(anchor)) throw new Error(`node ${node}: no anchor pid in ${c.dir}/run`);
  // bash: dash takes only one-digit descriptors in redirections. No
  // redirection around the loop: bash would keep stderr's copy on a
  // descriptor the loop then closes, and the command would run without stderr.
  const closeAbove2 = 'for f in /proc/$$/fd/*; do n=${f##*/}; if [ "$n" -gt 2 ] && [ -L "$f" ]; then eval "exec $n>&-"; fi; done; exec "$@"';
  const r = await execa('nsenter', ['-t', anchor, '-a', `--wd=${opts.cwd ?? c.shared}`, '--', '/bin/bash', '-c', closeAbove2, 'bash', file, ...args],
    { env: { ...c.env, ...opts.env }, input: opts.input, timeout: opts.timeout, reject: false });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
export interface NodeResult { exitCode: number; stdout: string; stderr: string }

/** The root-namespace pid of node `node`'s init (pid 1 of the node's pid namespace). */
export function nodeInit(node: string): number {
  const init = readFileSync(join(cluster().dir, 'run', `node-${node}.init`), 'utf8').trim();
  if (!/^\d+$/.test(init)) throw new Error(`node ${node}: no init pid in ${cluster().dir}/run`);
  return Number(init);
}

/** Every process of node `node`: its pid in the node → its pid in the root namespace. */
export function nodePids(node: string): Map<number, number> {
  return pidsInNamespaceOf(nodeInit(node));
}

function pidsInNamespaceOf(init: number): Map<number, number> {
  const ns = statSync(`/proc/${init}/ns/pid`).ino;
  const map = new Map<number, number>();
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (statSync(`/proc/${p}/ns/pid`).ino !== ns) continue;
      const nspid = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1]?.trim().split(/\s+/);
      if (nspid) map.set(Number(nspid[nspid.length - 1]), Number(p));
    } catch {
      // exited while we looked
    }
  }
  return map;
}

/**
 * Crashes node `node` as a power cut would: SIGKILL to its init, after
 * which the kernel kills every process of the node (daemons, ssh sessions,
 * job steps). Returns once none is left. The node's network namespace and
 * address stay (nothing answers there); down.sh cleans up as usual.
 */
export async function crashNode(node: string, timeoutMs = 10_000): Promise<void> {
  const init = nodeInit(node);
  const held = openSync(`/proc/${init}/ns/pid`, 'r'); // its inode stays the node's while we look
  try {
    const ns = fstatSync(held).ino;
    process.kill(init, 'SIGKILL');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
        try { return statSync(`/proc/${d}/ns/pid`).ino === ns; } catch { return false; }
      });
      if (left.length === 0) return;
      if (Date.now() > deadline) throw new Error(`node ${node}: processes ${left.join(',')} outlived its init`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    closeSync(held);
  }
}

/** Writes `script` into the shared dir as an executable file; returns its path. */
export function writeScript(name: string, script: string): string {
  const path = join(cluster().shared, name);
  writeFileSync(path, script);
  chmodSync(path, 0o755);
  return path;
}

/**
 * Submits `script` (text) with sbatch from the shared dir; returns the job id.
 * Output goes to <shared>/<name>-<id>.out unless args say otherwise.
 */
export async function sbatch(script: string, args: string[] = [], name = 'job'): Promise<string> {
  const path = writeScript(`${name}-${Date.now()}.sh`, script);
  const out = await slurm('sbatch', ['--parsable', '-J', name, '-o', `${name}-%j.out`, ...args, path]);
  const id = out.trim().split(';')[0] ?? '';
  if (!/^\d+$/.test(id)) throw new Error(`sbatch printed no job id: ${out}`);
  return id;
}

/** `scontrol show job ID` as Key → value (the first of each key). */
export async function scontrolShowJob(id: string): Promise<Map<string, string>> {
  const text = await slurm('scontrol', ['show', 'job', id]);
  const fields = new Map<string, string>();
  for (const m of text.matchAll(/(?:^|\s)([A-Za-z][\w:/]*)=(\S*)/g)) {
    if (!fields.has(m[1] as string)) fields.set(m[1] as string, m[2] ?? '');
  }
  return fields;
}

const ENDED = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'NODE_FAIL', 'PREEMPTED', 'OUT_OF_MEMORY', 'BOOT_FAIL', 'DEADLINE']);

/**
 * Polls `scontrol show job` until JobState is one of `states`. Fails early
 * when the job ends in another state, and after `timeoutMs`.
 */
export async function waitJob(id: string, states: string | string[], timeoutMs = 60_000): Promise<Map<string, string>> {
  const want = new Set(Array.isArray(states) ? states : [states]);
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const job = await scontrolShowJob(id);
    last = job.get('JobState') ?? '?';
    if (want.has(last)) return job;
    if (ENDED.has(last)) throw new Error(`job ${id} ended ${last} (waiting for ${[...want].join('|')}); see ${cluster().shared}`);
    if (Date.now() > deadline) throw new Error(`job ${id} still ${last} after ${timeoutMs} ms (waiting for ${[...want].join('|')})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Polls until `file` exists and `match` finds something in it; returns the text. */
export async function waitFile(file: string, match: RegExp, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    if (match.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`${file}: no ${match} after ${timeoutMs} ms; it holds:\n${text}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
