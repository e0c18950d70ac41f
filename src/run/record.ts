// What `stasis run` remembers in its store (D/run.json): the command it
// runs, how often it restarted it, who drives it now, and whether it ended.
// Replaced whole (write, fsync, rename): a crash leaves the old or the new.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const RUN_FILE = 'run.json';

export interface RunRecord {
  command: string[];
  /** Times `stasis run` restarted the command from a generation of D. */
  restarts: number;
  /** The `stasis run` driving the job now (null once it left). */
  driver: { pid: number; host: string } | null;
  /** Set when the command ended by itself with status 0: nothing to resume. */
  finished: { at: string } | null;
}

export function writeRunRecord(dir: string, r: RunRecord): void {
  const file = join(dir, RUN_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(r)}\n`);
    fsyncSync(fd);
  } finally { closeSync(fd); }
  renameSync(tmp, file);
}

/** D/run.json, null when absent; a damaged one throws one line naming it. */
export function readRunRecord(dir: string): RunRecord | null {
  const file = join(dir, RUN_FILE);
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`${file}: unreadable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let r: Partial<RunRecord>;
  try { r = JSON.parse(text) as Partial<RunRecord>; } catch { r = {}; }
  if (!r || !Array.isArray(r.command) || !r.command.every((w) => typeof w === 'string')
      || !Number.isSafeInteger(r.restarts) || (r.restarts as number) < 0)
    throw new Error(`${file}: corrupt (want {"command":[...],"restarts":N,...}); the generations beside it are untouched`);
  return { command: r.command, restarts: r.restarts as number, driver: r.driver ?? null, finished: r.finished ?? null };
}
