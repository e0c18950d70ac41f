// End to end: a real checkpoint of a real program, read back by `stasis
// inspect`. Needs the native build and the launch/command CLI.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Job, programs, repoRoot } from '../helpers/stasis.js';

const counter = join(programs, 'counter');
const ready = () => existsSync(counter) && existsSync(join(repoRoot, 'dist', 'src', 'cli', 'launch.js'))
  && existsSync(join(repoRoot, 'dist', 'src', 'cli', 'command.js'));

// Uncompressed images are the ones the loader maps straight from the file;
// every PAGES payload there is written from live memory, not from a copy.
const modes: Array<[string, Record<string, string>]> = [
  ['zstd (default)', {}],
  ['uncompressed', { STASIS_COMPRESS: 'none' }],
];

describe('stasis inspect on a real checkpoint', () => {
  for (const [mode, env] of modes) {
    it(`${mode}: reports the process, its threads and regions, and the manifest checksum`, async function () {
      if (!ready()) this.skip();   // native build or launch/command CLI not there yet
      const job = new Job();
      try {
        const p = job.launch([counter], { env });
        await p.waitFor(/^count 2$/);
        const g = await job.checkpoint();
        const manifest = JSON.parse(readFileSync(join(g.dir, 'manifest.json'), 'utf8'));
        const r = await job.cli(['inspect', job.dir, '--json']);
        assert.equal(r.exitCode, 0, r.stderr);
        const report = JSON.parse(r.stdout);
        assert.equal(report.kind, 'generation');
        assert.equal(report.generation, g.generation);
        assert.equal(report.processes.length, 1);
        const proc = report.processes[0];
        assert.equal(proc.pid, p.pid);
        assert.ok(proc.threads >= 2, `threads: ${proc.threads} (main + checkpoint thread)`);
        assert.ok(proc.regions > 0);
        assert.ok(proc.memoryBytes > 0);
        assert.equal(proc.checksum, manifest.processes[0].checksum);
        assert.equal(proc.bytes, manifest.processes[0].bytes);
        assert.ok(proc.detail.meta.threads.some((t: { checkpoint: boolean }) => t.checkpoint));
        const text = await job.cli(['inspect', g.dir]);
        assert.equal(text.exitCode, 0, text.stderr);
        assert.match(text.stdout, /checksums verified/);
      } finally {
        await job.cleanup();
      }
    });
  }
});
