// Which resource manager runs this process, and its adapter. The choice is
// made from the environment alone (SLURM_* wins over PBS_*: Slurm's Torque
// wrappers and some sites set both), unless forced with opts.rm / STASIS_RM.
import { readFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { localJob, localResourceManager } from './local.js';
import { pbsResourceManager } from './pbs.js';
import { isSlurmEnv, slurmJobFromEnv, slurmResourceManager } from './slurm.js';
import { looksLikeTorque, pbsJobFromEnv, torqueResourceManager } from './torque.js';
import type { ResourceManager, RmKind } from './types.js';

export type { Job, JobNode, ResourceManager, RmKind, EndSignal, SpawnOptions } from './types.js';

export const RM_KINDS: readonly RmKind[] = ['slurm', 'torque', 'pbs', 'local'];

export interface DetectOptions {
  /** Use this adapter whatever the environment says. */
  rm?: RmKind;
  /** Reads PBS_NODEFILE (tests pass fixture text). */
  readFile?: (path: string) => string;
  /** This host's name and CPU count for the local adapter (defaults: os). */
  hostname?: string;
  cpus?: number;
  cwd?: string;
  /** The N of `sbatch --signal=B:USR1@N`, which Slurm does not export. */
  signalSecondsBefore?: number | null;
}

export function detectKind(env: NodeJS.ProcessEnv = process.env, forced?: string): RmKind {
  const wanted = forced ?? env.STASIS_RM;
  if (wanted) {
    if (!(RM_KINDS as readonly string[]).includes(wanted)) {
      throw new Error(`unknown resource manager "${wanted}" (expected one of ${RM_KINDS.join(', ')})`);
    }
    return wanted as RmKind;
  }
  if (isSlurmEnv(env)) return 'slurm';
  if (env.PBS_JOBID) return looksLikeTorque(env) ? 'torque' : 'pbs';
  return 'local';
}

export function detectJob(env: NodeJS.ProcessEnv = process.env, opts: DetectOptions = {}): ResourceManager {
  const kind = detectKind(env, opts.rm);
  const fullHost = opts.hostname ?? hostname();
  const shortHost = fullHost.split('.')[0] as string;
  switch (kind) {
    case 'slurm':
      return slurmResourceManager(slurmJobFromEnv(env), { signalSecondsBefore: opts.signalSecondsBefore ?? null });
    case 'torque':
    case 'pbs': {
      const job = pbsJobFromEnv(env, readNodefile(env, opts.readFile), kind);
      // The nodefile may use short or full names; name this node its way.
      job.thisNode = job.nodes.find((n) => n.host === fullHost || n.host.split('.')[0] === shortHost)?.host ?? shortHost;
      return kind === 'torque' ? torqueResourceManager(job) : pbsResourceManager(job);
    }
    case 'local':
      return localResourceManager(
        localJob({
          hostname: fullHost,
          cpus: opts.cpus ?? availableParallelism(),
          cwd: opts.cwd ?? process.cwd(),
        }),
      );
  }
}

function readNodefile(env: NodeJS.ProcessEnv, read = (p: string) => readFileSync(p, 'utf8')): string {
  const path = env.PBS_NODEFILE;
  if (!path) throw new Error(`PBS job ${env.PBS_JOBID ?? '?'}: PBS_NODEFILE is not set, so the job's nodes are unknown`);
  try {
    return read(path);
  } catch (e) {
    throw new Error(`PBS job ${env.PBS_JOBID ?? '?'}: cannot read PBS_NODEFILE ${path}: ${(e as Error).message}`);
  }
}
