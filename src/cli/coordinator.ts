// `stasis coordinator`: runs a coordinator for a checkpoint directory in the
// foreground. Private coordinators of one launch/restart start through
// src/coordinator/private-main.ts instead.
import type { CommandModule } from 'yargs';
import { runCoordinator, type CoordinatorArgs } from '../coordinator/run.js';

export const coordinatorCommand: CommandModule<object, CoordinatorArgs> = {
  command: 'coordinator',
  describe: 'Run a checkpoint coordinator for a checkpoint directory',
  builder: (y) => y
    .option('ckpt-dir', { type: 'string', default: process.env.STASIS_CKPT_DIR ?? 'stasis-ckpt', describe: 'checkpoint directory (store)' })
    .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on (numeric)' })
    .option('port', { type: 'number', default: 0, describe: 'TCP port (0: any free port, published in coordinator.json)' })
    .option('interval', { type: 'number', default: 0, describe: 'seconds between checkpoints (0: only on request)' })
    .option('keep', { type: 'number', default: 0, describe: 'keep the newest N generations (0: all)' })
    .option('expect', { type: 'number', default: 0, describe: 'restored processes to wait for before any continues' })
    .option('timeout', { type: 'number', default: 300, describe: 'seconds a barrier may take before the checkpoint aborts' }) as never,
  handler: (a) => runCoordinator(a),
};
