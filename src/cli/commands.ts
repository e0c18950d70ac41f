// The list of commands: each lives in its own file and exports a yargs
// CommandModule. Only the module of the command being run is loaded (some
// pull in heavy libraries), which keeps `stasis launch` and `restart` quick.
import type { CommandModule } from 'yargs';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyCommand = CommandModule<any, any>;

const table: Record<string, () => Promise<AnyCommand>> = {
  launch: async () => (await import('./launch.js')).launchCommand,
  restart: async () => (await import('./restart.js')).restartCommand,
  command: async () => (await import('./command.js')).commandCommand,
  coordinator: async () => (await import('./coordinator.js')).coordinatorCommand,
  inspect: async () => (await import('./inspect.js')).inspectCommand,
  job: async () => (await import('./job.js')).jobCommand,
  pack: async () => (await import('./pack.js')).packCommand,
  unpack: async () => (await import('./pack.js')).unpackCommand,
  run: async () => (await import('./run.js')).runCommand,
  status: async () => (await import('./status.js')).statusCommand,
};

/** The module for `name`, or every module (for --help and suggestions). */
export async function loadCommands(name: string | undefined): Promise<AnyCommand[]> {
  const one = name !== undefined ? table[name] : undefined;
  return Promise.all(one ? [one()] : Object.values(table).map((load) => load()));
}
