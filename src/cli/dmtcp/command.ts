// dmtcp_command [-h H] [-p P] COMMAND: `stasis command` under DMTCP's
// commands. -s and -l print DMTCP's status and client list layout, which
// scripts grep (NUM_PEERS=, RUNNING=).
import { resolve } from 'node:path';
import { CommandClient, locate } from '../../coordinator/client.js';
import { decodeArg } from '../../coordinator/protocol.js';
import { connectHost, parseCommand, type CommandPlan } from './flags.js';
import { front, runStasis, tokenArgs } from './front.js';

const USAGE = `Usage: dmtcp_command [OPTIONS] COMMAND
Send a command to the coordinator (DMTCP-compatible front of stasis command).

Options:
  -h, --coord-host HOST   coordinator host (DMTCP_COORD_HOST)
  -p, --coord-port PORT   coordinator port (DMTCP_COORD_PORT)
  --ckptdir D             checkpoint directory (DMTCP_CHECKPOINT_DIR; default
                          STASIS_CKPT_DIR, else ./stasis-ckpt)
Without -h/-p the coordinator is the one serving D; with them, the one at
that address, its token read from D/token (or STASIS_TOKEN).

Commands:
  -s, --status            print status (NUM_PEERS=, RUNNING=, CKPT_INTERVAL=)
  -l, --list              list the processes of the job
  -c, --checkpoint        checkpoint (waits until the generation is committed)
  -bc, --bcheckpoint      the same
  -i, --interval S        set seconds between checkpoints (0: never)
  -k, --kill              kill every process of the job
  -q, --quit              kill every process and stop the coordinator
`;

/** How `stasis command` finds the coordinator for this plan: D's files, or H:P with D's token. */
function where(plan: CommandPlan): { ckptDir?: string; coord?: string; tokenFile?: string } {
  const dir = resolve(plan.ckptDir);
  if (plan.host === undefined && plan.port === undefined) return { ckptDir: dir };
  const [, tokenFile] = tokenArgs(dir);
  return { coord: `${connectHost(plan.host)}:${plan.port ?? 7779}`, ...(tokenFile ? { tokenFile } : {}) };
}

function whereArgs(w: ReturnType<typeof where>): string[] {
  return [...(w.ckptDir ? ['--ckpt-dir', w.ckptDir] : []), ...(w.coord ? ['--coord', w.coord] : []),
    ...(w.tokenFile ? ['--token-file', w.tokenFile] : [])];
}

interface Status { processes: number; state: string; interval: number; ckptDir: string;
  clients: Array<{ pid: number; kernelPid: number; host: string; name: string }> }

async function statusOrList(plan: CommandPlan): Promise<void> {
  const target = locate(where(plan));
  const client = await CommandClient.open(target);
  let s: Status;
  try {
    s = JSON.parse(decodeArg((await client.request('STATUS'))[1] ?? '')) as Status;
  } finally { client.close(); }
  const lines = plan.verb === 'status'
    ? ['Coordinator:', `  Host: ${target.address.host}`, `  Port: ${target.address.port}`, 'Status...',
      `  NUM_PEERS=${s.processes}`, `  RUNNING=${s.state === 'running' && s.processes > 0 ? 'yes' : 'no'}`,
      `  CKPT_INTERVAL=${s.interval ? s.interval : '0 (checkpoint manually)'}`]
    : ['Client List:', '#, PROG[PID:KERNEL-PID]@HOST',
      ...s.clients.map((c, i) => `${i + 1}, ${c.name}[${c.pid}:${c.kernelPid}]@${c.host}`)];
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(argv: string[]): Promise<void> {
  const plan = parseCommand(argv, process.env);
  if (plan.verb === 'status' || plan.verb === 'list') return statusOrList(plan);
  const verb = plan.verb === 'interval' ? ['--interval', String(plan.interval)] : [`--${plan.verb}`];
  await runStasis(['command', ...whereArgs(where(plan)), ...verb]);
}

await front('dmtcp_command', USAGE, main);
