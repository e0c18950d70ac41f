// `stasis run [options] -- cmd args`: run a command so that it survives being
// stopped. The first time it launches cmd under stasis; when the checkpoint
// directory holds a committed generation, it restarts from the newest. On
// the end-of-job signal it checkpoints, then requeues the batch job (or,
// without a resource manager, stops: running the same command resumes).
import type { CommandModule } from 'yargs';
import { detectJob } from '../rm/index.js';
import { defaultRunDir } from '../run/ckpt-dir.js';
import { drive } from '../run/driver.js';
import { programArgv } from './argv.js';
import { compressOption, intOption, pathOption } from './options.js';
import { coordHostOption } from '../coordinator/hosts.js';
import { resolve } from 'node:path';

interface Args { coordHost?: string; ckptDir?: string; interval?: number; keep?: number; maxRestarts?: number; compress?: string; localDir?: string }

async function run(a: Args): Promise<void> {
  const argv = programArgv();
  if (!argv.length) throw new Error('run: give the command after --, e.g. stasis run -- ./app arg');
  const rm = detectJob(process.env);
  const dir = a.ckptDir ? resolve(a.ckptDir) : defaultRunDir(rm.job);
  process.exitCode = await drive({ dir, argv, interval: a.interval, keep: a.keep, maxRestarts: a.maxRestarts, rm, coordHost: a.coordHost, compress: a.compress, localDir: a.localDir });
  process.exit();
}

export const runCommand: CommandModule<object, Args> = {
  command: 'run',
  describe: 'Run a command that survives preemption and time limits: stasis run [options] -- cmd args',
  builder: (y) => y
    .usage('$0 run [--ckpt-dir D] [--interval S] [--keep N] [--max-restarts N] [--compress C] [--local-dir L] [--coord-host A] -- cmd args')
    .option('ckpt-dir', pathOption('ckpt-dir', 'checkpoint directory (default: STASIS_CKPT_DIR; in a batch job SUBMIT_DIR/stasis-ckpt-JOBID[_TASK]; else ./stasis-ckpt)'))
    .option('coord-host', coordHostOption)
    .option('interval', intOption('interval', 'seconds between checkpoints (0: only at the end of the job; default: as the job ran, else 0)'))
    .option('keep', intOption('keep', 'keep the newest N generations (0: all; default: as the job ran, else 0)'))
    .option('compress', compressOption)
    .option('local-dir', pathOption('local-dir', 'node-local directory where generations commit first, then flushed to the checkpoint directory (default: STASIS_LOCAL_DIR)'))
    .option('max-restarts', intOption('max-restarts', 'restart from a checkpoint at most N times (default: no limit)')) as never,
  handler: (a) => run(a),
};
