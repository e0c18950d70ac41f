// dmtcp_coordinator [options] [port]: `stasis coordinator` under DMTCP's
// flags, with --port-file, --status-file, --exit-on-last and --daemon.
import { spawn } from 'node:child_process';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { Store } from '../../images/store.js';
import { liveCoordinator, type Published } from '../../coordinator/publish.js';
import { parseCoordinator, type CoordinatorPlan } from './flags.js';
import { front, runStasis } from './front.js';

const USAGE = `Usage: dmtcp_coordinator [OPTIONS] [port]
Run a checkpoint coordinator (DMTCP-compatible front of stasis coordinator).

  -p, --coord-port PORT   port to listen on (DMTCP_COORD_PORT; default 7779; 0: any)
  --port-file F           write the port to F once listening
  --status-file F         write host, port and pid to F once listening
  -i, --interval S        seconds between checkpoints (DMTCP_CHECKPOINT_INTERVAL)
  -c, --ckptdir D         checkpoint directory (DMTCP_CHECKPOINT_DIR; default
                          STASIS_CKPT_DIR, else ./stasis-ckpt)
  --exit-on-last          exit when the last process of the job has left
  --daemon                run in the background, logging to --coord-logfile F
                          (default D/coordinator.log)
It listens on DMTCP_COORD_HOST's address when set (for multi-node jobs),
else on 127.0.0.1. See docs/cli.md.
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The last line of a log, for a one-line error. */
function lastLine(file: string): string {
  try { return readFileSync(file, 'utf8').trim().split('\n').at(-1) || `see ${file}`; } catch { return `see ${file}`; }
}

/** A numeric address to listen on: DMTCP_COORD_HOST resolved, else loopback. */
async function listenAddress(host: string | undefined): Promise<string> {
  if (!host || host === 'localhost') return '127.0.0.1';
  if (isIP(host)) return host;
  try { return (await lookup(host, { family: 4 })).address; } catch (e) {
    throw new Error(`DMTCP_COORD_HOST ${host}: cannot resolve it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Once `pid` has published itself in `dir`: writes --port-file and --status-file. */
async function whenListening(plan: CoordinatorPlan, dir: string, pid: number, gone: () => boolean, log = ''): Promise<Published> {
  for (;;) {
    const live = liveCoordinator(dir);
    if (live && live.pid === pid) {
      if (plan.portFile) writeFileSync(plan.portFile, `${live.port}\n`);
      if (plan.statusFile) writeFileSync(plan.statusFile, `Status...\nHost: ${live.host}\nPort: ${live.port}\nPID: ${pid}\nCheckpoint Dir: ${dir}\n`);
      return live;
    }
    if (gone()) throw new Error(`the coordinator did not start: ${lastLine(log)}`);
    await sleep(50);
  }
}

async function main(argv: string[]): Promise<void> {
  const plan = parseCoordinator(argv, process.env);
  const dir = resolve(plan.ckptDir);
  const host = await listenAddress(plan.listenHost);
  const args = ['coordinator', '--ckpt-dir', dir, '--host', host, '--port', String(plan.port),
    ...(plan.interval !== undefined ? ['--interval', String(plan.interval)] : []), ...(plan.exitOnLast ? ['--exit-on-last'] : [])];
  if (plan.daemon) {
    // The foreground coordinator, detached, in its own session: this returns once it listens.
    // Its log: --coord-logfile, else D/coordinator.log, where private coordinators log too.
    new Store(dir).ensure();
    const log = resolve(plan.logFile ?? join(dir, 'coordinator.log'));
    const out = openSync(log, 'a', 0o600);
    const child = spawn(process.execPath, [resolve(process.argv[1]!, '..', 'stasis.js'), ...args],
      { detached: true, stdio: ['ignore', out, out] });
    let exited = false;
    child.on('exit', () => { exited = true; });
    const live = await whenListening(plan, dir, child.pid!, () => exited, log);
    child.unref();
    process.stderr.write(`dmtcp_coordinator: listening on ${live.host}:${live.port} (pid ${child.pid}, ckpt dir ${dir})\n`);
    process.exit(0);
  }
  if (plan.portFile || plan.statusFile) void whenListening(plan, dir, process.pid, () => false);
  await runStasis(args);
}

await front('dmtcp_coordinator', USAGE, main);
