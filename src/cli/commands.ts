// The list of commands: each lives in its own file and exports a yargs CommandModule.
import type { CommandModule } from 'yargs';
import { inspectCommand } from './inspect.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [
  inspectCommand,
];
