// dmtcp_launch [options] prog args: `stasis launch` under DMTCP's flags.
// Which coordinator (docs/cli.md, "dmtcp_launch"): with -h/-p (or
// DMTCP_COORD_HOST/PORT) the one at that address, token from the
// checkpoint directory; else the one serving the directory, or a new one.
import { liveCoordinator } from '../../coordinator/publish.js';
import { resolve } from 'node:path';
import { connectHost, DmtcpUsage, parseLaunch, type LaunchPlan } from './flags.js';
import { front, listening, runStasis, tokenArgs } from './front.js';

const USAGE = `Usage: dmtcp_launch [OPTIONS] <command> [args...]
Start a process under stasis (DMTCP-compatible front of stasis launch).

  -h, --coord-host HOST   coordinator host (DMTCP_COORD_HOST)
  -p, --coord-port PORT   coordinator port (DMTCP_COORD_PORT); 0: any free port
  -j, --join-coordinator  join a running coordinator; fail if there is none
  --new-coordinator       start a new coordinator; fail if one runs
  --any-coordinator       join one if it runs, else start one (default)
  -i, --interval S        seconds between checkpoints (DMTCP_CHECKPOINT_INTERVAL)
  -c, --ckptdir D         checkpoint directory (DMTCP_CHECKPOINT_DIR; default
                          STASIS_CKPT_DIR, else ./stasis-ckpt)
  --gzip, --no-gzip       compress images or not (DMTCP_GZIP=1/0)
The token of the coordinator is read from D/token (or STASIS_TOKEN).
See docs/cli.md for the flags accepted and ignored.
`;

async function main(argv: string[]): Promise<void> {
  const plan = parseLaunch(argv, process.env);
  if (plan.compress) process.env.STASIS_COMPRESS = plan.compress;
  await runStasis(await stasisArgs(plan));
}

/** `stasis launch` arguments for the plan: which coordinator, found how. */
async function stasisArgs(plan: LaunchPlan): Promise<string[]> {
  const dir = resolve(plan.ckptDir);
  const base = ['launch', '--ckpt-dir', dir, ...(plan.interval !== undefined ? ['--interval', String(plan.interval)] : [])];
  const tail = ['--', ...plan.program];
  const local = liveCoordinator(dir);
  // D's own coordinator (on this node), unless another port is named: joined through D's files.
  if (local && (!plan.port || plan.port === local.port)) {
    if (plan.mode === 'new') throw new DmtcpUsage(`--new-coordinator: a coordinator (pid ${local.pid}) already serves ${dir}`);
    return [...base, ...tail];
  }
  if (plan.host === undefined && !plan.port) {
    if (plan.mode === 'join') throw new DmtcpUsage(`-j: no coordinator is running for ${dir}`);
    return [...base, ...tail];
  }
  const host = connectHost(plan.host);
  const port = plan.port ?? 7779;
  const up = await listening(host, port);
  if (up) {
    if (plan.mode === 'new') throw new DmtcpUsage(`--new-coordinator: something already listens at ${host}:${port}`);
    return [...base, '--coord', `${host}:${port}`, ...tokenArgs(dir), ...tail];
  }
  if (plan.mode === 'join') throw new DmtcpUsage(`-j: no coordinator listens at ${host}:${port}`);
  if (host !== '127.0.0.1') throw new DmtcpUsage(`no coordinator listens at ${host}:${port} (start dmtcp_coordinator there first)`);
  if (local) throw new DmtcpUsage(`a coordinator (pid ${local.pid}) serves ${dir} at port ${local.port}, not ${port}`);
  return [...base, '--port', String(port), ...tail];
}

await front('dmtcp_launch', USAGE, main);
