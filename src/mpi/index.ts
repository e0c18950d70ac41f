// MPI under stasis: `stasis launch` and `stasis run` call mpiEnvironment()
// with the command they start; it prints nothing (batch scripts' output is
// the user's).
import { detectLauncher, directLaunchedRank } from './detect.js';
import { transportEnvironment } from './environment.js';

export { detectLauncher, directLaunchedRank, familyFromVersion, type MpiLauncher, type MpiFamily } from './detect.js';
export { transportEnvironment, transports } from './environment.js';

/** Variables to add to the environment of `argv` so that its MPI job can be checkpointed ({} when it is no MPI job). */
export function mpiEnvironment(argv: string[], env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const launcher = detectLauncher(argv, env);
  if (launcher) return transportEnvironment(launcher.family, env);
  // A rank srun started directly: it has not called MPI_Init yet.
  if (directLaunchedRank(env)) return transportEnvironment(null, env);
  return {};
}
