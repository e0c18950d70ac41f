// The test matrix (scripts/test-modes.sh) runs C/R specs again with
// STASIS_SAVE and STASIS_COMPRESS set in the environment of mocha; the specs
// pass no flag for them. This spec proves the mode reaches the job through the
// harness: a job launched with no flag writes its images the way the
// environment says (lz4 blocks, zstd frames or raw records; with the job
// running on while the generation is held after its images are written, or
// stopped), and restores from them. Run alone it checks the defaults.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Job, numbers, programs } from '../helpers/stasis.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const count = /^count (\d+)$/;

/** What the environment asks for (save-mode.ts, native/core/init.c read the same variables). */
export function envMode(): { save: 'forked' | 'stopped'; compress: 'zstd' | 'lz4' | 'none' } {
  const save = process.env.STASIS_SAVE === 'forked' ? 'forked' : 'stopped';
  const c = process.env.STASIS_COMPRESS ?? '';
  const compress = c.startsWith('lz4') ? 'lz4' : c === 'none' ? 'none' : 'zstd';
  return { save, compress };
}

async function waitUntil(f: () => boolean, what: string, ms = 20000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(50);
  }
}

describe(`the mode from the environment (save ${envMode().save}, compression ${envMode().compress})`, function () {
  this.timeout(120000);

  it('reaches a job launched without flags: its images, whether it runs on while they are committed, its restart', async () => {
    const want = envMode();
    const job = new Job();
    try {
      // Generation 1 is held after every image is written, before its commit.
      const p = job.launch([join(programs, 'counter')], { env: { STASIS_TEST_PAUSE: 'saved@1' } });
      await p.waitFor(/^count 3$/);
      const before = numbers(p.lines, count).at(-1)!;
      const ck = job.checkpoint();
      const log = join(job.dir, 'coordinator.log');
      await waitUntil(() => existsSync(log) && readFileSync(log, 'utf8').includes('test pause at saved of generation 1'), 'generation 1 held');
      const held = numbers(p.lines, count).at(-1)!;
      await sleep(600);   // 12 lines if the job runs
      const ranOn = numbers(p.lines, count).at(-1)! - held;
      writeFileSync(join(job.dir, 'test-release'), '');
      assert.equal((await ck).generation, 1);
      if (want.save === 'forked') assert.ok(ranOn >= 3, `forked: the job printed ${ranOn} lines while its images were held`);
      else assert.ok(ranOn <= 1, `stopped: the job printed ${ranOn} lines while it should be stopped`);
      const settings = JSON.parse(readFileSync(join(job.dir, 'settings.json'), 'utf8'));
      assert.equal(settings.save ?? 'stopped', want.save, 'settings.json');

      const r = await job.cli(['inspect', job.dir, '--json']);
      assert.equal(r.exitCode, 0, r.stderr);
      const t = JSON.parse(r.stdout).processes[0].detail.totals as { compressedRecords: number; lz4Records: number };
      if (want.compress === 'none') assert.equal(t.compressedRecords, 0, 'none: compressed records');
      else if (want.compress === 'lz4') assert.ok(t.lz4Records > 0 && t.lz4Records === t.compressedRecords, `lz4: ${JSON.stringify(t)}`);
      else assert.ok(t.compressedRecords > 0 && t.lz4Records === 0, `zstd: ${JSON.stringify(t)}`);

      await job.killTree(p);
      const q = job.restart();
      const at = Number((await q.waitFor(count))[1]);
      assert.ok(at > before && at <= held + 1, `restart resumed at ${at}: asked at ${before}, held at ${held}`);
      await q.waitFor(new RegExp(`^count ${at + 3}$`));
      await job.killTree(q);
    } finally {
      await job.cleanup();
    }
  });
});
