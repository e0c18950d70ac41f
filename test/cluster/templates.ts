// Job templates (scripts/sbatch, scripts/pbs) submitted to the test cluster
// as a user would, with the line that runs the program replaced.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { cluster, repoRoot, stasisBin } from './cluster.js';

/**
 * Submits a template with its `exec stasis run …` line replaced by `runLine`
 * (the program, and options a short test needs), `stasis` on PATH as the
 * checkout's CLI. Returns the job id.
 */
export async function submitTemplate(template: string, runLine: string, args: string[] = [], submit = 'sbatch'): Promise<string> {
  const c = cluster();
  const bin = join(c.shared, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'stasis'), `#!/bin/sh\nexec node "${stasisBin}" "$@"\n`);
  chmodSync(join(bin, 'stasis'), 0o755);
  const text = readFileSync(join(repoRoot, 'scripts', template), 'utf8');
  assert.match(text, /^exec stasis run .*$/m, `${template} has no exec stasis run line`);
  const path = join(c.shared, `${template.replace('/', '-')}-${Date.now()}`);
  writeFileSync(path, text.replace(/^exec stasis run .*$/m, runLine));
  const env = { ...c.env, PATH: `${bin}:${process.env.PATH}` };
  const r = await execa(submit, submit === 'sbatch' ? ['--parsable', ...args, path] : [...args, path], { env, cwd: c.shared, reject: false, all: true });
  assert.equal(r.exitCode, 0, `${submit} ${template}: ${r.all}`);
  const id = r.stdout.trim().split(';')[0] ?? '';
  assert.match(id, /^\d+$/, `${submit} printed no job id: ${r.all}`);
  return id;
}
