// `stasis status [D] [--json]`: what a checkpoint directory holds and what
// runs on it: generations (time, size, job and nodes that wrote each), the
// restart count of `stasis run`, the newest generation that is restorable
// (every checksum verified, as inspect does), and the coordinator's state.
import type { CommandModule } from 'yargs';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { CommandClient, locate } from '../coordinator/client.js';
import { decodeArg } from '../coordinator/protocol.js';
import { liveCoordinator } from '../coordinator/publish.js';
import { inspect } from '../images/inspect.js';
import { generationName } from '../images/manifest.js';
import { Store } from '../images/store.js';
import { detectJob } from '../rm/index.js';
import { readRunRecord, type RunRecord } from '../run/record.js';
import { defaultRunDir } from '../run/ckpt-dir.js';

interface Args { dir?: string; json: boolean }

interface GenerationStatus {
  generation: number; name: string; createdAt: string | null; bytes: number | null;
  processes: number | null; jobId: string | null; hosts: string[]; problem: string | null;
}

export interface StatusReport {
  dir: string;
  run: RunRecord | null;
  generations: GenerationStatus[];
  newestRestorable: number | null;
  coordinator: { pid: number; state: string; processes: number; generation: number; interval: number } | { error: string } | null;
}

function describeGeneration(store: Store, g: number): GenerationStatus {
  const base = { generation: g, name: generationName(g), createdAt: null, bytes: null, processes: null, jobId: null, hosts: [], problem: null };
  try {
    const m = store.readManifest(g);
    return { ...base, createdAt: m.createdAt, bytes: m.totalBytes, processes: m.processes.length, jobId: m.job.id, hosts: m.job.hosts };
  } catch (e) { return { ...base, problem: (e as Error).message }; }
}

async function coordinatorState(dir: string): Promise<StatusReport['coordinator']> {
  const live = liveCoordinator(dir);
  if (!live) return null;
  let client: CommandClient | null = null;
  try {
    client = await CommandClient.open(locate({ ckptDir: dir }));
    const words = await client.request('STATUS');
    const s = JSON.parse(decodeArg(words[1] ?? '')) as { pid: number; state: string; processes: number; generation: number; interval: number };
    return { pid: s.pid, state: s.state, processes: s.processes, generation: s.generation, interval: s.interval };
  } catch (e) { return { error: `coordinator pid ${live.pid}: ${(e as Error).message}` }; } finally { client?.close(); }
}

export async function statusReport(dir: string): Promise<StatusReport> {
  if (!existsSync(dir)) throw new Error(`${dir}: no such checkpoint directory`);
  if (!statSync(dir).isDirectory()) throw new Error(`${dir}: not a directory`);
  const store = new Store(dir);
  const generations = store.generations().map((g) => describeGeneration(store, g));
  // Newest first, every byte verified, until one passes.
  let newestRestorable: number | null = null;
  for (const g of [...generations].reverse()) {
    if (g.problem) continue;
    try { await inspect(store.genDir(g.generation)); newestRestorable = g.generation; break; } catch (e) { g.problem = (e as Error).message; }
  }
  return { dir, run: readRunRecord(dir), generations, newestRestorable, coordinator: await coordinatorState(dir) };
}

function size(bytes: number | null): string {
  if (bytes === null) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${bytes} B` : `${v.toFixed(1)} ${units[u]}`;
}

export function formatStatus(r: StatusReport): string {
  const lines = [`checkpoint directory ${r.dir}`];
  if (r.run) {
    const state = r.run.finished ? `finished ${r.run.finished.at}` : r.run.driver ? `driven by stasis run pid ${r.run.driver.pid} on ${r.run.driver.host}` : 'stopped';
    lines.push(`command      ${r.run.command.join(' ')}`, `run          ${state}; restarts ${r.run.restarts}`);
  }
  lines.push(`generations  ${r.generations.length}`);
  for (const g of r.generations) {
    const where = g.jobId ? `job ${g.jobId} on ${g.hosts.join(',') || '?'}` : `on ${g.hosts.join(',') || '?'}`;
    lines.push(`  ${g.name}  ${g.createdAt ?? '?'}  ${size(g.bytes)}  ${g.processes ?? '?'} process(es)  ${where}${g.problem ? `  NOT RESTORABLE: ${g.problem}` : ''}`);
  }
  lines.push(`restorable   ${r.newestRestorable === null ? 'none' : `${generationName(r.newestRestorable)} (newest with every checksum verified)`}`);
  const c = r.coordinator;
  lines.push(`coordinator  ${!c ? 'none running' : 'error' in c ? c.error
    : `${c.state}, pid ${c.pid}: ${c.processes} process(es), generation ${c.generation}, interval ${c.interval} s`}`);
  return lines.join('\n') + '\n';
}

function defaultDir(): string {
  try { return defaultRunDir(detectJob(process.env).job); } catch { return resolve(process.env.STASIS_CKPT_DIR || 'stasis-ckpt'); }
}

export const statusCommand: CommandModule<object, Args> = {
  command: 'status [dir]',
  describe: 'Show a checkpoint directory: generations, restarts, the newest restorable one, the coordinator',
  builder: (y) => y
    .positional('dir', { type: 'string', describe: 'checkpoint directory (default: as stasis run picks it)' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' }) as never,
  handler: async (a: Args) => {
    if (a.dir === '') throw new Error('status: an empty directory path');
    const r = await statusReport(resolve(a.dir ?? defaultDir()));
    process.stdout.write(a.json ? `${JSON.stringify(r, null, 2)}\n` : formatStatus(r));
  },
};
