// The checkpoint directory `stasis run` uses when none is given: stable
// across requeues of one batch job (the job id does not change) and
// distinct per array task, under the directory the job was submitted from.
import { join, resolve } from 'node:path';
import type { Job } from '../rm/index.js';

export function defaultRunDir(job: Job, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  if (env.STASIS_CKPT_DIR) return resolve(env.STASIS_CKPT_DIR);
  if (job.rm === 'local' || !job.id) return resolve(cwd, 'stasis-ckpt');
  // An array task: <array job id>_<task>, as squeue shows it.
  const id = job.arrayJobId && job.arrayTaskId ? `${job.arrayJobId}_${job.arrayTaskId}` : job.id;
  return join(resolve(job.submitDir ?? cwd), `stasis-ckpt-${id.replace(/[^\w.-]/g, '_')}`);
}
