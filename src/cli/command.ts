// `stasis command`: talks to a running coordinator (checkpoint, status,
// interval, kill, quit). --checkpoint blocks until the generation is committed.
import type { CommandModule } from 'yargs';
import { join } from 'node:path';
import { CommandClient, locate } from '../coordinator/client.js';
import { decodeArg } from '../coordinator/protocol.js';
import { generationName } from '../images/manifest.js';
import { intOption, pathOption } from './options.js';
import { showCheckpointProgress } from './checkpoint-progress.js';

interface Args {
  coord?: string; ckptDir?: string; tokenFile?: string; json: boolean;
  checkpoint: boolean; status: boolean; kill: boolean; quit: boolean; interval?: number;
}

interface Status { processes: number; generation: number; state: string; ckptDir: string; interval: number;
  clients: Array<{ pid: number; host: string; name: string }>;
  lastCheckpoint?: { generation: number | null; committed: boolean; reason?: string } | null }

/** "; last checkpoint: gen-000003 committed" or "; last checkpoint failed: REASON", or nothing before the first. */
function lastCheckpointText(s: Status): string {
  const c = s.lastCheckpoint;
  if (!c) return '';
  if (c.committed) return `; last checkpoint: ${generationName(c.generation!)} committed`;
  return `; last checkpoint${c.generation ? ` (generation ${c.generation})` : ''} failed: ${c.reason}`;
}

async function run(a: Args): Promise<void> {
  const chosen = [a.checkpoint, a.status, a.kill, a.quit, a.interval !== undefined].filter(Boolean).length;
  if (chosen !== 1) throw new Error('command: give exactly one of --checkpoint, --status, --interval S, --kill, --quit');
  const target = locate(a);
  const client = await CommandClient.open(target);
  const out = (human: string, json: unknown) => process.stdout.write(`${a.json ? JSON.stringify(json) : human}\n`);
  try {
    if (a.checkpoint) {
      // On a terminal, what it is doing while it runs (stderr); the summary line as in scripts.
      const stop = await showCheckpointProgress(target, client.ckptDir);
      const [, g, bytes, seconds] = await client.request('CHECKPOINT').finally(stop);
      const r = { generation: Number(g), dir: join(client.ckptDir, generationName(Number(g))), bytes: Number(bytes), seconds: Number(seconds) };
      out(`${generationName(r.generation)} ${r.bytes} bytes ${r.seconds.toFixed(2)} s`, r);
    } else if (a.status) {
      const words = await client.request('STATUS');
      const s = JSON.parse(decodeArg(words[1] ?? '')) as Status;
      const procs = s.clients.map((c) => `${c.name}[${c.pid}]@${c.host}`).join(' ');
      out(`${s.state}: ${s.processes} process(es), generation ${s.generation}, interval ${s.interval} s, ${s.ckptDir}${procs ? ` — ${procs}` : ''}${lastCheckpointText(s)}`, s);
    } else if (a.interval !== undefined) {
      await client.request('INTERVAL', String(a.interval));
      out(`interval set to ${a.interval} s`, { interval: a.interval });
    } else {
      await client.request(a.kill ? 'KILL' : 'QUIT');
      out(a.kill ? 'killed every process' : 'killed every process; coordinator exits', { ok: true });
    }
  } finally {
    client.close();
  }
}

export const commandCommand: CommandModule<object, Args> = {
  command: 'command',
  describe: 'Send a command to a running coordinator',
  builder: (y) => y
    .option('ckpt-dir', pathOption('ckpt-dir', 'find the coordinator through this checkpoint directory'))
    .option('coord', { type: 'string', requiresArg: true, describe: 'coordinator HOST:PORT (token from STASIS_TOKEN or --token-file)' })
    .option('token-file', pathOption('token-file', 'file holding the job token'))
    .option('checkpoint', { type: 'boolean', default: false, describe: 'checkpoint now; prints generation, bytes, seconds' })
    .option('status', { type: 'boolean', default: false, describe: 'print the coordinator state' })
    .option('interval', intOption('interval', 'set seconds between checkpoints (0: off)'))
    .option('kill', { type: 'boolean', default: false, describe: 'kill every process of the job' })
    .option('quit', { type: 'boolean', default: false, describe: 'kill every process and stop the coordinator' })
    .option('json', { type: 'boolean', default: false, describe: 'print JSON' }) as never,
  handler: (a) => run(a),
};
