// Entry of a private coordinator (see spawn.ts). It skips the yargs CLI:
// restart time includes this Node start, which competes for the CPUs with
// the loader filling memory. Its options come as one JSON argument.
import { runCoordinator, type CoordinatorArgs } from './run.js';

try {
  await runCoordinator(JSON.parse(process.argv[2] ?? '') as CoordinatorArgs);
} catch (e) {
  process.stderr.write(`stasis coordinator: ${(e as Error).message}\n`);
  process.exit(1);
}
