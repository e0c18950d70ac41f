// `stasis coordinator`: runs a coordinator for a checkpoint directory in the
// foreground (or, with --private, on behalf of one launch/restart).
import type { CommandModule } from 'yargs';
import { resolve } from 'node:path';
import { Coordinator } from '../coordinator/server.js';
import { newToken, pidAlive, publish, unpublish, formatAddress } from '../coordinator/publish.js';
import { waitForPrevious } from '../coordinator/spawn.js';
import { Store } from '../images/store.js';
import { currentJobInfo } from '../coordinator/job-info.js';

interface Args {
  ckptDir: string; host: string; port: number; interval: number; keep: number; expect: number;
  private: boolean; ownerPid?: number; listenFd?: number; timeout: number;
}

async function run(a: Args): Promise<void> {
  const log = (s: string) => process.stderr.write(`${new Date().toISOString()} coordinator[${process.pid}]: ${s}\n`);
  const dir = resolve(a.ckptDir);
  // A private coordinator gets its socket and token from whoever started it.
  const token = (a.listenFd !== undefined && process.env.STASIS_COORD_TOKEN) || newToken();
  delete process.env.STASIS_COORD_TOKEN;
  new Store(dir).ensure();
  if (a.listenFd === undefined) await waitForPrevious(dir);
  const coord = new Coordinator({
    ckptDir: dir, token, host: a.host, port: a.port, interval: a.interval, keep: a.keep,
    expect: a.expect, exitWhenIdle: a.private, timeoutMs: a.timeout * 1000, job: currentJobInfo(), log,
  });
  // Before it is published: whoever finds coordinator.json may signal it at once.
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => coord.shutdown(sig));
  await coord.listen(a.listenFd);
  publish(dir, { host: coord.address.host, port: coord.address.port, pid: process.pid, private: a.private }, token);
  log(`listening on ${formatAddress(coord.address)} for ${dir}`);
  if (a.listenFd === undefined) process.stdout.write(`stasis coordinator listening on ${formatAddress(coord.address)} (ckpt dir ${dir})\n`);
  let watch: NodeJS.Timeout | null = null;
  if (a.private && a.ownerPid) {
    // Whoever started us died before any process connected (e.g. no such program).
    watch = setInterval(() => {
      if (coord.processCount === 0 && !pidAlive(a.ownerPid!)) coord.shutdown(`owner ${a.ownerPid} is gone`);
    }, 200);
  }
  await coord.done();
  if (watch) clearInterval(watch);
  unpublish(dir);
  process.exit(0);
}

export const coordinatorCommand: CommandModule<object, Args> = {
  command: 'coordinator',
  describe: 'Run a checkpoint coordinator for a checkpoint directory',
  builder: (y) => y
    .option('ckpt-dir', { type: 'string', default: process.env.STASIS_CKPT_DIR ?? 'stasis-ckpt', describe: 'checkpoint directory (store)' })
    .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on (numeric)' })
    .option('port', { type: 'number', default: 0, describe: 'TCP port (0: any free port, published in coordinator.json)' })
    .option('interval', { type: 'number', default: 0, describe: 'seconds between checkpoints (0: only on request)' })
    .option('keep', { type: 'number', default: 0, describe: 'keep the newest N generations (0: all)' })
    .option('expect', { type: 'number', default: 0, describe: 'restored processes to wait for before any continues' })
    .option('timeout', { type: 'number', default: 300, describe: 'seconds a barrier may take before the checkpoint aborts' })
    .option('private', { type: 'boolean', default: false, hidden: true })
    .option('owner-pid', { type: 'number', hidden: true })
    .option('listen-fd', { type: 'number', hidden: true }) as never,
  handler: (a) => run(a),
};
