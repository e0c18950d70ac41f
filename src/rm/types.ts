// The one shape every resource-manager adapter produces. Tests, `stasis job
// --json`, the job driver and the test cluster all read this; keep it stable.

export type RmKind = 'slurm' | 'torque' | 'pbs' | 'local';

/** A node of the allocation and how many slots (CPUs / ppn) the job has there. */
export interface JobNode {
  host: string;
  slots: number;
}

export interface Job {
  rm: RmKind;
  /** The id the RM's own commands take (scontrol requeue ID, qrerun ID). */
  id: string | null;
  name: string | null;
  /** In the RM's order; the first is where the batch script runs. */
  nodes: JobNode[];
  submitDir: string | null;
  /** 0 on the first run; 1 after one requeue, … */
  restartCount: number;
  /** Tasks the RM planned on each node, same order as `nodes`. */
  tasksPerNode: number[];
  /** Index of this task in an array job, else null. */
  arrayTaskId?: string | null;
  /** The array's own id (Slurm SLURM_ARRAY_JOB_ID), which differs from `id`. */
  arrayJobId?: string | null;
  /** The node this process runs on, as the RM names it (SLURMD_NODENAME, …). */
  thisNode?: string | null;
}

export interface EndSignal {
  /** The signal that means "you are about to be stopped". */
  signal: NodeJS.Signals;
  /** How long before the end it arrives, when known. */
  secondsBefore: number | null;
  /** One sentence for people: who sends it, and when. */
  how: string;
}

export interface SpawnOptions {
  /** Copies of argv per host (default 1). */
  tasksPerNode?: number;
}

export interface ResourceManager {
  kind: RmKind;
  job: Job;
  /** argv that runs `argv` on every host of `hosts` (tasksPerNode copies each). */
  spawnArgv(hosts: string[], argv: string[], opts?: SpawnOptions): string[];
  /** argv that puts the job back in the queue, or null when the RM cannot. */
  requeueArgv(): string[] | null;
  endSignal: EndSignal;
}
