// `stasis coordinator`: runs a coordinator for a checkpoint directory in the
// foreground. Private coordinators of one launch/restart start through
// src/coordinator/private-main.ts instead.
import type { CommandModule } from 'yargs';
import { runCoordinator, type CoordinatorArgs } from '../coordinator/run.js';
import { defaultCkptDir, intOption, pathOption } from './options.js';
import { coordHostOption, coordinatorHost } from '../coordinator/hosts.js';

export const coordinatorCommand: CommandModule<object, CoordinatorArgs> = {
  command: 'coordinator',
  describe: 'Run a checkpoint coordinator for a checkpoint directory',
  builder: (y) => y
    .option('ckpt-dir', pathOption('ckpt-dir', 'checkpoint directory (store)', defaultCkptDir()))
    .option('host', { ...coordHostOption, alias: 'coord-host' })
    .option('port', intOption('port', 'TCP port (0: any free port, published in coordinator.json)', { max: 65535 }, 0))
    .option('interval', intOption('interval', 'seconds between checkpoints (0: only on request)', {}, 0))
    .option('keep', intOption('keep', 'keep the newest N generations (0: all)', {}, 0))
    .option('expect', intOption('expect', 'restored processes to wait for before any continues', {}, 0))
    .option('exit-on-last', { type: 'boolean', default: false, describe: 'exit when the last process of the job has left' })
    .option('forked', { type: 'boolean', default: false, describe: 'forked checkpoints: a copy of each process writes its image while the job runs on (STASIS_SAVE=forked)' })
    .option('timeout', intOption('timeout', 'seconds a barrier may take before the checkpoint aborts', { min: 1 }, 300)) as never,
  handler: async (a) => {
    if ((a as { forked?: boolean }).forked) process.env.STASIS_SAVE = 'forked';
    return runCoordinator({ ...a, host: await coordinatorHost(a.host) });
  },
};
