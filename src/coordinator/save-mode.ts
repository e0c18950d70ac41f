// How images are written (docs/cli.md, Forked checkpoints): with every
// process stopped, or by a copy of each process (fork) while the job runs on.
export type SaveMode = 'stopped' | 'forked';

/** STASIS_SAVE: `forked` or `stopped` (the default, also when empty). */
export function saveModeFromEnv(): SaveMode {
  const v = process.env.STASIS_SAVE ?? '';
  if (v === '' || v === 'stopped') return 'stopped';
  if (v === 'forked') return 'forked';
  throw new Error(`STASIS_SAVE '${v}': want forked or stopped`);
}
