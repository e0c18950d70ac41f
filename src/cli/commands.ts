// The list of commands: each lives in its own file and exports a yargs CommandModule.
import type { CommandModule } from 'yargs';
import { commandCommand } from './command.js';
import { coordinatorCommand } from './coordinator.js';
import { inspectCommand } from './inspect.js';
import { jobCommand } from './job.js';
import { launchCommand } from './launch.js';
import { restartCommand } from './restart.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [
  launchCommand,
  restartCommand,
  commandCommand,
  coordinatorCommand,
  inspectCommand,
  jobCommand,
];
