// Slurm: the job from SLURM_* variables (or `scontrol show job` text), and
// srun / scontrol requeue as verbs. Parsing is pure so it is tested from
// real captured environments (../shared/fixtures/slurm/).
import { compressHostlist, expandHostlist } from './hostlist.js';
import type { EndSignal, Job, JobNode, ResourceManager, SpawnOptions } from './types.js';

export interface SlurmOptions {
  /** The N of `sbatch --signal=B:USR1@N`, when the job script says so; Slurm does not export it. */
  signalSecondsBefore?: number | null;
}

/**
 * Expands Slurm's per-node count lists: "2(x3),1" → [2, 2, 2, 1]
 * (SLURM_TASKS_PER_NODE, SLURM_JOB_CPUS_PER_NODE).
 */
export function expandCounts(value: string, name = 'count list'): number[] {
  const counts: number[] = [];
  for (const item of value.split(',')) {
    const m = /^\s*(\d+)(?:\(x(\d+)\))?\s*$/.exec(item);
    if (!m) throw new Error(`cannot read ${name} "${value}": expected items like 2 or 2(x3)`);
    const count = Number(m[1]);
    const times = m[2] === undefined ? 1 : Number(m[2]);
    for (let i = 0; i < times; i++) counts.push(count);
  }
  return counts;
}

export function isSlurmEnv(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.SLURM_JOB_ID ?? env.SLURM_JOBID);
}

/** The job as the batch script or any srun task of it sees it. */
export function slurmJobFromEnv(env: NodeJS.ProcessEnv): Job {
  const id = env.SLURM_JOB_ID ?? env.SLURM_JOBID ?? null;
  const nodelist = env.SLURM_JOB_NODELIST ?? env.SLURM_NODELIST;
  if (!nodelist) throw new Error(`Slurm job ${id ?? '?'}: SLURM_JOB_NODELIST is not set`);
  const hosts = expandHostlist(nodelist);
  const tasks = perNode(env.SLURM_TASKS_PER_NODE, 'SLURM_TASKS_PER_NODE', hosts.length);
  const cpus = perNode(env.SLURM_JOB_CPUS_PER_NODE, 'SLURM_JOB_CPUS_PER_NODE', hosts.length);
  // Inside a step that uses fewer nodes, SLURM_TASKS_PER_NODE describes the
  // step, not the job; the job's CPUs are then the better guess.
  const slots = cpus ?? tasks ?? hosts.map(() => 1);
  return {
    rm: 'slurm',
    id,
    name: env.SLURM_JOB_NAME ?? null,
    nodes: hosts.map((host, i): JobNode => ({ host, slots: slots[i] ?? 1 })),
    submitDir: env.SLURM_SUBMIT_DIR ?? null,
    restartCount: nonNegativeInt(env.SLURM_RESTART_COUNT, 'SLURM_RESTART_COUNT'),
    tasksPerNode: tasks ?? slots,
    arrayTaskId: env.SLURM_ARRAY_TASK_ID ?? null,
    arrayJobId: env.SLURM_ARRAY_JOB_ID ?? null,
    thisNode: env.SLURMD_NODENAME ?? null,
  };
}

/** A per-node list whose length matches the nodes, or null when absent or for another node set. */
function perNode(value: string | undefined, name: string, nodes: number): number[] | null {
  if (!value) return null;
  const counts = expandCounts(value, name);
  return counts.length === nodes ? counts : null;
}

function nonNegativeInt(value: string | undefined, name: string): number {
  if (value === undefined || value === '') return 0;
  if (!/^\d+$/.test(value)) throw new Error(`${name}="${value}" is not a count`);
  return Number(value);
}

/** `scontrol show job <id>` text as Key → value (the first of each key). */
export function parseScontrolShowJob(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const m of text.matchAll(/(?:^|\s)([A-Za-z][\w:/]*)=(\S*)/g)) {
    const key = m[1] as string;
    if (!fields.has(key)) fields.set(key, m[2] ?? '');
  }
  return fields;
}

/** The job from `scontrol show job` — used where no SLURM_* variables exist (outside the job). */
export function slurmJobFromScontrol(text: string): Job {
  const f = parseScontrolShowJob(text);
  const id = f.get('JobId');
  const nodelist = f.get('NodeList');
  if (!id || !nodelist || nodelist === '(null)') {
    throw new Error('scontrol show job output has no JobId or NodeList (is the job running?)');
  }
  const hosts = expandHostlist(nodelist);
  const n = hosts.length;
  const cpus = Number(f.get('NumCPUs') ?? n);
  const tasks = Number(f.get('NumTasks') ?? n);
  // NtasksPerN:B:S:C=2:0:*:* — the first number, 0 when not requested.
  const perNodeAsked = Number((f.get('NtasksPerN:B:S:C') ?? '0').split(':')[0]);
  const tasksPerNode = perNodeAsked > 0 ? hosts.map(() => perNodeAsked) : spread(tasks, n);
  const slots = spread(cpus, n);
  return {
    rm: 'slurm',
    id,
    name: nullIfUnset(f.get('JobName')),
    nodes: hosts.map((host, i) => ({ host, slots: slots[i] ?? 1 })),
    submitDir: nullIfUnset(f.get('WorkDir')),
    restartCount: nonNegativeInt(f.get('Restarts'), 'Restarts'),
    tasksPerNode,
    arrayTaskId: nullIfUnset(f.get('ArrayTaskId')),
    arrayJobId: nullIfUnset(f.get('ArrayJobId')),
    thisNode: null,
  };
}

/** Asks slurmctld: `scontrol show job ID` (for tools that run outside the job). */
export async function readScontrolJob(jobId: string): Promise<Job> {
  const { execa } = await import('execa');   // not at start-up: 130 files, needed only here
  const r = await execa('scontrol', ['show', 'job', jobId], { reject: false, stdin: 'ignore' });
  if (r.exitCode !== 0) {
    const why = (r.stderr || r.shortMessage || `exit ${r.exitCode}`).trim().split('\n')[0];
    throw new Error(`scontrol show job ${jobId} failed: ${why}`);
  }
  return slurmJobFromScontrol(r.stdout);
}

/** Slurm's block layout: `total` over `n` nodes, the first ones taking the remainder. */
function spread(total: number, n: number): number[] {
  const base = Math.floor(total / n);
  return Array.from({ length: n }, (_, i) => base + (i < total % n ? 1 : 0));
}

function nullIfUnset(v: string | undefined): string | null {
  return v === undefined || v === '' || v === '(null)' ? null : v;
}

/**
 * srun inside the allocation. Counts are given explicitly because srun would
 * otherwise inherit SLURM_NTASKS etc. from the batch script and refuse a
 * smaller node list; --overlap lets it start next to a step that holds all
 * CPUs (the application itself).
 */
export function srunArgv(hosts: string[], argv: string[], opts: SpawnOptions = {}): string[] {
  const perNode = opts.tasksPerNode ?? 1;
  if (hosts.length === 0) throw new Error('nothing to spawn: no hosts given');
  if (new Set(hosts).size !== hosts.length) {
    throw new Error(`srun: host list has repeats (${hosts.join(',')}); use tasksPerNode instead`);
  }
  return [
    'srun',
    `--nodelist=${compressHostlist(hosts)}`,
    `--nodes=${hosts.length}`,
    `--ntasks=${hosts.length * perNode}`,
    `--ntasks-per-node=${perNode}`,
    '--overlap',
    ...argv,
  ];
}

export function slurmEndSignal(secondsBefore: number | null = null): EndSignal {
  return {
    signal: 'SIGUSR1',
    secondsBefore,
    how:
      'sbatch --signal=B:USR1@SECONDS sends USR1 to the batch shell that long before the time limit; ' +
      'at the limit, on scancel or preemption Slurm sends SIGTERM, then SIGKILL after KillWait (30 s by default)',
  };
}

/**
 * An array task as ARRAYID_TASK: one task's own job id may be the array's
 * id, and `scontrol requeue ARRAYID` requeues every task of the array.
 */
function requeueId(job: Job): string {
  return job.arrayJobId && job.arrayTaskId ? `${job.arrayJobId}_${job.arrayTaskId}` : job.id!;
}

export function slurmResourceManager(job: Job, opts: SlurmOptions = {}): ResourceManager {
  return {
    kind: 'slurm',
    job,
    spawnArgv: (hosts, argv, spawnOpts) => srunArgv(hosts, argv, spawnOpts),
    requeueArgv: () => (job.id ? ['scontrol', 'requeue', requeueId(job)] : null),
    endSignal: slurmEndSignal(opts.signalSecondsBefore ?? null),
  };
}
