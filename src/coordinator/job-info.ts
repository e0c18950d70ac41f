// Which batch job this coordinator serves, for the manifest.
import type { JobInfo } from './barrier.js';

export function currentJobInfo(env = process.env): JobInfo {
  if (env.SLURM_JOB_ID) return { rm: 'slurm', id: env.SLURM_JOB_ID };
  if (env.PBS_JOBID) return { rm: env.PBS_ENVIRONMENT || env.PBS_VERSION ? 'pbs' : 'torque', id: env.PBS_JOBID };
  return { rm: 'local', id: null };
}
