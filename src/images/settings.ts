// The settings a job runs with, remembered in its store (D/settings.json) so
// that `stasis restart` keeps them: a requeue script need not repeat
// --interval. Written atomically by launch (when it starts the job's
// coordinator) and by restart (with what it overrode), read by restart.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const SETTINGS_FILE = 'settings.json';

export interface JobSettings {
  interval: number;          // seconds between checkpoints, 0: only on request
  keep: number;              // generations kept, 0: all
  compress: string | null;   // STASIS_COMPRESS at launch (null: the default, zstd)
  plugins?: string[];        // --with-plugin: absolute paths of the plugin .so files (absent: none)
  save?: 'forked';           // --forked / STASIS_SAVE=forked (absent: images written with the job stopped)
  localDir?: string;         // --local-dir: generations commit there first, then are flushed to D (absent: none)
}

/** The settings with `plugins`, `save` and `localDir` only when given (files from before them stay as they were). */
export function jobSettings(interval: number, keep: number, compress: string | null, plugins: string[] = [],
  save: 'forked' | 'stopped' = 'stopped', localDir?: string): JobSettings {
  return { interval, keep, compress, ...(plugins.length ? { plugins } : {}), ...(save === 'forked' ? { save } : {}),
    ...(localDir ? { localDir } : {}) };
}

/** Replaces D/settings.json whole: a crash leaves the old file or the new one. */
export function writeSettings(dir: string, s: JobSettings): void {
  const file = join(dir, SETTINGS_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(s)}\n`);
    fsyncSync(fd);
  } finally { closeSync(fd); }
  renameSync(tmp, file);
}

const wholeNumber = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * D/settings.json, or null when there is none (a store from before this
 * file existed). A file that cannot be read or parsed throws one line naming it.
 */
export function readSettings(dir: string): JobSettings | null {
  const file = join(dir, SETTINGS_FILE);
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`${file}: unreadable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let s: Partial<JobSettings>;
  try { s = JSON.parse(text) as Partial<JobSettings>; } catch (e) {
    throw new Error(`${file}: corrupt (${(e as Error).message})`);
  }
  if (!s || typeof s !== 'object' || !wholeNumber(s.interval) || !wholeNumber(s.keep)
      || !(s.compress === null || typeof s.compress === 'string')
      || !(s.plugins === undefined || (Array.isArray(s.plugins) && s.plugins.every((p) => typeof p === 'string' && p !== '')))
      || !(s.save === undefined || s.save === 'forked')
      || !(s.localDir === undefined || (typeof s.localDir === 'string' && s.localDir !== '')))
    throw new Error(`${file}: corrupt (want {"interval":N,"keep":N,"compress":null|"...","plugins":["/path.so",...],"save":"forked","localDir":"/path"})`);
  return jobSettings(s.interval, s.keep, s.compress, s.plugins, s.save, s.localDir);
}
