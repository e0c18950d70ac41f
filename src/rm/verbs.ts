// The verbs run for real: spawn a command on nodes through the RM's launcher,
// and requeue the job. What to run comes from the adapter (pure); this file
// only executes it.
import { constants } from 'node:os';
import type { ResourceManager, SpawnOptions } from './types.js';

export interface VerbResult {
  /** The launcher's exit status (124 timed out, 128+N killed by signal N, 127 not started). */
  exitCode: number;
  stdout: string[];
  stderr: string[];
  argv: string[];
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Runs `argv` once per host (tasksPerNode times each) and waits for all of them. */
export async function spawnOnNodes(
  rm: ResourceManager,
  hosts: string[],
  argv: string[],
  opts: SpawnOptions & RunOptions = {},
): Promise<VerbResult> {
  if (argv.length === 0) throw new Error('spawnOnNodes: no command given');
  return run(rm.spawnArgv(hosts, argv, { tasksPerNode: opts.tasksPerNode }), opts);
}

/**
 * Puts the job back in the queue (scontrol requeue / qrerun). Run from
 * inside the job, the requeue itself makes the scheduler send SIGTERM to
 * every process of the job — the requeue command too, which could die
 * before it reports success: it runs with SIGTERM ignored.
 */
export async function requeue(rm: ResourceManager, opts: RunOptions = {}): Promise<VerbResult> {
  const argv = rm.requeueArgv();
  if (!argv) throw new Error(`cannot requeue: the ${rm.kind} adapter has no job to requeue`);
  const r = await run(['sh', '-c', 'trap "" TERM; exec "$@"', 'sh', ...argv], opts);
  return { ...r, argv };
}

async function run(argv: string[], opts: RunOptions): Promise<VerbResult> {
  const [file, ...args] = argv;
  if (!file) throw new Error('empty command');
  const { execa } = await import('execa');   // not at start-up: 130 files, needed only here
  const r = await execa(file, args, {
    reject: false,
    stdin: 'ignore',
    env: opts.env,
    timeout: opts.timeoutMs,
    lines: true,
  });
  const stderr = [...r.stderr];
  if (r.exitCode === undefined && r.shortMessage) stderr.push(r.shortMessage);
  return { exitCode: r.exitCode ?? shellStatus(r.timedOut, r.signal), stdout: [...r.stdout], stderr, argv };
}

/** No exit status: report what a shell would (124 timeout(1), 128+N killed, 127 not started). */
function shellStatus(timedOut: boolean, signal: NodeJS.Signals | undefined): number {
  if (timedOut) return 124;
  if (signal) return 128 + (constants.signals[signal] ?? 0);
  return 127;
}
