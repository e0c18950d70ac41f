// `stasis launch -- prog args`: finds or starts the coordinator, then becomes
// the program through the native launcher (same PID, LD_PRELOAD=libstasis).
import type { CommandModule } from 'yargs';
import { resolve, join } from 'node:path';
import { Store } from '../images/store.js';
import { jobSettings, writeSettings } from '../images/settings.js';
import { liveCoordinator, formatAddress, readToken, TOKEN_FILE } from '../coordinator/publish.js';
import { startPrivateCoordinator } from '../coordinator/spawn.js';
import { saveModeFromEnv } from '../coordinator/save-mode.js';
import { execve, guardHandOver, launcherPath } from '../native.js';
import { programArgv } from './argv.js';
import { compressOption, defaultCkptDir, fileListOption, intOption, parseCompression, pathOption } from './options.js';
import { resolveProgram, unreachable } from './reach.js';
import { coordHostOption, coordinatorHost } from '../coordinator/hosts.js';
import { existsSync } from 'node:fs';
import { mpiEnvironment } from '../mpi/index.js';

function tokenIn(dir: string): string | undefined {
  return existsSync(join(dir, TOKEN_FILE)) ? readToken(join(dir, TOKEN_FILE)) : undefined;
}

interface Args { coordHost?: string; coord?: string; ckptDir: string; interval: number; keep: number; port: number; tokenFile?: string; closeInherited: boolean; allowStatic: boolean; withPlugin?: string[]; compress?: string; forked: boolean; incremental: boolean; localDir?: string }

async function run(a: Args): Promise<void> {
  // Files changed from now on are the job's own (native/plugins/file/made.c);
  // a launch from inside a job keeps that job's time.
  const launched = (process.env.STASIS_COORD && process.env.STASIS_LAUNCH_TIME) || String(Date.now());
  guardHandOver();
  const argv = programArgv();
  if (!argv.length) throw new Error('launch: give the program after --, e.g. stasis launch -- ./app arg');
  const file = resolveProgram(argv[0]!);
  const why = !a.allowStatic && file && unreachable(file);
  if (why) {
    process.stderr.write(`stasis: cannot launch ${argv[0]}: ${why}\n`);
    process.exit(126);
  }
  const dir = resolve(a.ckptDir);
  if (a.forked) process.env.STASIS_SAVE = 'forked';   // the private coordinator started below reads it
  // An MPI launcher's transports held to checkpointable ones (docs/user-guide.md, MPI jobs).
  const env: NodeJS.ProcessEnv = { ...mpiEnvironment(argv), ...process.env, STASIS_CKPT_DIR: dir, STASIS_LAUNCH_TIME: launched };
  // libstasis loads them in its constructor; exec'd programs inherit the
  // variable, forked and restored processes have them in memory.
  const compress = a.compress ?? (process.env.STASIS_COMPRESS ? parseCompression('STASIS_COMPRESS', process.env.STASIS_COMPRESS) : undefined);
  if (compress) env.STASIS_COMPRESS = compress;
  if (a.incremental) env.STASIS_INCREMENTAL = '1';
  const plugins = a.withPlugin ?? [];
  if (plugins.length) env.STASIS_PLUGINS = plugins.join(',');
  else delete env.STASIS_PLUGINS;
  const coord = a.coord ?? process.env.STASIS_COORD;
  if (coord) {
    // A process on another host: the token from the store when nothing carries it (ssh carries no environment).
    const token = a.tokenFile ? readToken(a.tokenFile) : process.env.STASIS_TOKEN || tokenIn(dir);
    if (!token) throw new Error(`launch: --coord needs the job token in STASIS_TOKEN, --token-file or ${join(dir, TOKEN_FILE)}`);
    Object.assign(env, { STASIS_COORD: coord, STASIS_TOKEN: token });
  } else {
    new Store(dir).ensure();
    // One still flushing its ended job's last generation serves no one: a new one starts once it is done.
    const found = liveCoordinator(dir);
    const live = found?.flushing ? null : found;
    // The job's own coordinator: its settings are the job's, kept by restart.
    // --local-dir (or STASIS_LOCAL_DIR): every coordinator and restart of the job reads it from settings.json.
    const localDir = a.localDir ?? (process.env.STASIS_LOCAL_DIR || undefined);
    if (!live) writeSettings(dir, jobSettings(a.interval, a.keep, compress ?? null, plugins, saveModeFromEnv(), localDir && resolve(localDir)));
    const { address, token } = live ? { address: live, token: readToken(join(dir, TOKEN_FILE)) }
      : await startPrivateCoordinator({ ckptDir: dir, interval: a.interval, keep: a.keep, port: a.port, host: await coordinatorHost(a.coordHost) });
    Object.assign(env, { STASIS_COORD: formatAddress(address), STASIS_TOKEN: token });
  }
  execve(launcherPath, ['stasis-launch', '--', ...argv], env, a.closeInherited ? 'launch-close' : 'launch');
}

export const launchCommand: CommandModule<object, Args> = {
  command: 'launch',
  describe: 'Run a program under stasis: stasis launch [options] -- prog args',
  builder: (y) => y
    .usage('$0 launch [--coord H:P | --coord-host ADDR] [--ckpt-dir D] [--interval S] [--keep N] [--port P] [--compress C] [--local-dir L] [--close-inherited] [--allow-static] [--forked] [--incremental] [--with-plugin a.so,b.so] -- prog args')
    .option('coord-host', coordHostOption)
    .option('coord', { type: 'string', requiresArg: true, describe: 'coordinator HOST:PORT (default: STASIS_COORD, else a private one for --ckpt-dir)' })
    .option('ckpt-dir', pathOption('ckpt-dir', 'checkpoint directory', defaultCkptDir()))
    .option('interval', intOption('interval', 'seconds between checkpoints (0: only on request)', {}, 0))
    .option('keep', intOption('keep', 'keep the newest N generations (0: all)', {}, 0))
    .option('port', intOption('port', 'TCP port of the private coordinator launch starts (0: any free port)', { max: 65535 }, 0))
    .option('compress', compressOption)
    .option('local-dir', pathOption('local-dir', 'node-local directory (local disk, /dev/shm) where generations commit first; each is then flushed to --ckpt-dir in the background (default: STASIS_LOCAL_DIR)'))
    .option('token-file', pathOption('token-file', 'file holding the job token (with --coord)'))
    .option('close-inherited', { type: 'boolean', default: false,
      describe: 'close the descriptors above stderr this command inherited instead of handing them to the program' })
    .option('with-plugin', fileListOption('with-plugin', 'plugin shared objects (comma-separated) every process of the job loads, kept across restarts (docs/plugin-api.md)'))
    .option('incremental', { type: 'boolean', default: false,
      describe: 'incremental images: memory unchanged since the previous generation is referenced, not written again (STASIS_INCREMENTAL=1)' })
    .option('forked', { type: 'boolean', default: false,
      describe: 'forked checkpoints: a copy of each process writes its image while the job runs on (the private coordinator; STASIS_SAVE=forked)' })
    .option('allow-static', { type: 'boolean', default: false,
      describe: 'run a program libstasis cannot reach anyway: a static wrapper that execs a dynamically linked program' }) as never,
  handler: (a) => run(a),
};
