// Incremental images (--incremental, STASIS_INCREMENTAL=1, docs/image-format.md): chunks
// unchanged since the previous generation are REF records to the file that
// holds them, hard-linked into each generation. A real process (64 MiB of
// random bytes, which do not compress) is checkpointed twice: the second
// image is small; a changed chunk is written again; restart from the newest
// generation after the older ones are deleted gives the memory back
// exactly; damage in a referenced file is one line at restart.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Job, programs, type Running } from '../helpers/stasis.js';
import { waitUntil } from '../coordinator/util.js';
import { localStoreOf } from '../../src/images/levels.js';

const chunks = join(programs, 'chunks');
const MiB = 1 << 20;

interface Totals { storedBytes: number; savedBytes: number; refRecords: number; referencedBytes: number }

async function totals(job: Job, target: string): Promise<Totals> {
  const r = await job.cli(['inspect', target, '--json']);
  assert.equal(r.exitCode, 0, r.stderr);
  return JSON.parse(r.stdout).processes[0].detail.totals as Totals;
}

async function started(job: Job, flags: string[] = []): Promise<{ p: Running; sum: string }> {
  const p = job.launch([chunks, '64'], { flags: ['--incremental', ...flags] });
  const sum = (await p.waitFor(/^ready 64 MiB ([0-9a-f]{16})$/))[1]!;
  await p.waitFor(/^verified \d+/);
  return { p, sum };
}

/** SIGUSR1 to the program (its kernel pid): 1 MiB of it changes; the new checksum. */
async function changeOneChunk(job: Job, p: Running, signal: 'SIGUSR1' | 'SIGUSR2' = 'SIGUSR1'): Promise<string> {
  const [pid] = await job.kernelPids();
  const from = p.lines.length;
  process.kill(pid!, signal);
  return (await p.waitFor(signal === 'SIGUSR1' ? /^changed \d+ ([0-9a-f]{16})$/ : /^dropped \d+ ([0-9a-f]{16})$/, 20000, from))[1]!;
}

const imageOf = (dir: string) => readdirSync(dir).find((n) => n.endsWith('.img'))!;

describe('incremental images', function () {
  this.timeout(120000);

  for (const mode of ['stopped', 'forked'] as const) {
    it(`${mode}: unchanged memory is referenced, a changed chunk is written again, and the newest generation restores alone`, async () => {
      const job = new Job();
      try {
        const { p } = await started(job, mode === 'forked' ? ['--forked'] : []);
        const first = await job.checkpoint();
        assert.ok(first.bytes > 60 * MiB, `a full image of 64 MiB of random bytes: ${first.bytes} bytes`);
        const second = await job.checkpoint();
        assert.ok(second.bytes < first.bytes / 50, `the unchanged process wrote ${second.bytes} bytes (full: ${first.bytes})`);
        const img = imageOf(second.dir);
        // The first image, linked (the same file), not copied.
        const linked = join(second.dir, `${img}.g${String(first.generation).padStart(6, '0')}`);
        assert.equal(statSync(linked).ino, statSync(join(first.dir, img)).ino);
        const t2 = await totals(job, job.dir);
        assert.ok(t2.refRecords > 0 && t2.referencedBytes > 60 * MiB, JSON.stringify(t2));

        const changed = await changeOneChunk(job, p);
        const third = await job.checkpoint();
        const t3 = await totals(job, job.dir);
        // 1 MiB changed: the 8 MiB chunks it touches are written (random: stored raw), no more.
        assert.ok(t3.storedBytes >= MiB && t3.storedBytes <= 17 * MiB, JSON.stringify(t3));
        assert.ok(t3.referencedBytes >= 64 * MiB - 17 * MiB, JSON.stringify(t3));
        assert.ok(third.bytes < first.bytes / 2, `${third.bytes} bytes`);

        await job.killTree(p);
        // Pruned: the older generations go; the newest holds every file it needs.
        rmSync(first.dir, { recursive: true });
        rmSync(second.dir, { recursive: true });
        const q = job.restart();
        const from = q.lines.length;
        assert.equal((await q.waitFor(/^verified \d+ ([0-9a-f]{16})$/, 30000, from))[1], changed, q.tail());
        // And the restored process checkpoints incrementally again.
        const fourth = await job.checkpoint();
        assert.ok(fourth.bytes < first.bytes / 2, `after restart: ${fourth.bytes} bytes`);
        await job.killTree(q);
      } finally {
        await job.cleanup();
      }
    });
  }

  it('--forked: an unchanged process is written stopped, not forked (said in the debug log and the manifest), and that generation restores alone', async () => {
    const job = new Job();
    try {
      // Big enough that what the process itself writes between checkpoints
      // (a few MiB) is under 1/64 of it: the fork would cost more.
      const p = job.launch([join(programs, 'bigmem'), '320'], { flags: ['--forked', '--incremental'], env: { STASIS_DEBUG: '1' } });
      const sum = (await p.waitFor(/^ready 320 MiB ([0-9a-f]{16})$/, 60000))[1]!;
      await p.waitFor(/^verified 1 /, 60000);
      const manifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).processes[0];
      const first = await job.checkpoint();
      assert.equal(manifest(first.dir).forked, true, 'the first (full) image is written by the copy');
      const from = p.errLines.length;
      const second = await job.checkpoint();
      assert.equal(manifest(second.dir).forked, undefined, 'the unchanged one is written stopped');
      assert.ok(second.bytes < first.bytes / 50, `${second.bytes} bytes (full: ${first.bytes})`);
      const said = p.errLines.slice(from).join('\n');
      assert.match(said, /save: [0-9.]+ MiB changed since generation 1, of [0-9.]+ MiB resident: written stopped, not forked/, said);
      assert.doesNotMatch(said, /fork [0-9.]+ ms/, said);
      await job.killTree(p);
      rmSync(first.dir, { recursive: true });
      const q = job.restart();
      const m = await q.waitFor(/^(?:verified \d+ ([0-9a-f]{16})|MISMATCH .*)$/, 60000);
      assert.equal(m[1], sum, `${m[0]}; ${q.tail()}`);
      await job.killTree(q);
    } finally {
      await job.cleanup();
    }
  });

  it('damage in a referenced file: one line at restart naming it, and no file is removed', async () => {
    const job = new Job();
    try {
      const { p } = await started(job);
      const first = await job.checkpoint();
      const second = await job.checkpoint();
      await job.killTree(p);
      const img = imageOf(second.dir);
      const held = join(first.dir, img);
      // A byte in the middle of the memory (raw pages): the file gen 2 references.
      const fd = openSync(held, 'r+');
      const at = Math.floor(statSync(held).size / 2);
      const old = readFileSync(held).subarray(at, at + 1)[0]!;
      writeSync(fd, Buffer.from([old ^ 0xff]), 0, 1, at);
      closeSync(fd);
      const before = readdirSync(second.dir).sort();
      const r = await job.cli(['restart', second.dir]);
      assert.notEqual(r.exitCode, 0);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, new RegExp(`${img}: corrupt: record \\d+ refers to ${img}\\.g000001.*checksum mismatch`));
      const inspected = await job.cli(['inspect', second.dir]);
      assert.notEqual(inspected.exitCode, 0);
      assert.match(inspected.stderr, /refers to .*\.g000001 .*payload checksum mismatch/);
      assert.deepEqual(readdirSync(second.dir).sort(), before);
      assert.ok(existsSync(held));
    } finally {
      await job.cleanup();
    }
  });

  it('pack carries the referenced file: the archive of the newest generation restores alone', async () => {
    const job = new Job();
    const other = new Job();
    try {
      const { p, sum } = await started(job);
      await job.checkpoint();
      const second = await job.checkpoint();
      await job.killTree(p);
      const archive = join(other.dir, 'gen.tar');
      const packed = await job.cli(['pack', job.dir, '-o', archive]);
      assert.equal(packed.exitCode, 0, packed.stderr);
      const store = join(other.dir, 'store');
      const unpacked = await job.cli(['unpack', archive, store]);
      assert.equal(unpacked.exitCode, 0, unpacked.stderr);
      assert.deepEqual(readdirSync(store).filter((n) => n.startsWith('gen-')), [second.dir.split('/').at(-1)]);
      const q = other.restart(store);
      assert.equal((await q.waitFor(/^verified \d+ ([0-9a-f]{16})$/, 30000))[1], sum, q.tail());
      await q.kill9();
      await other.cli(['command', '--ckpt-dir', store, '--kill']);
    } finally {
      await job.cleanup();
      await other.cleanup();
    }
  });

  it('--local-dir: the flush links the referenced image from the copy the shared store has, and the shared generation restores alone', async () => {
    const job = new Job();
    const localDir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : job.dir, 'stasis-incr-L-'));
    try {
      const p = job.launch([chunks, '64'], { flags: ['--incremental', '--local-dir', localDir] });
      const sum = (await p.waitFor(/^ready 64 MiB ([0-9a-f]{16})$/))[1]!;
      await job.checkpoint();
      await job.checkpoint();
      assert.ok(existsSync(join(localStoreOf(localDir, job.dir).dir, 'gen-000002', 'manifest.json')), 'committed locally first');
      const shared = (g: string) => join(job.dir, g);
      await waitUntil(() => existsSync(join(shared('gen-000002'), 'manifest.json')), 'D has gen-000002');
      const img = imageOf(shared('gen-000002'));
      assert.equal(statSync(join(shared('gen-000002'), `${img}.g000001`)).ino, statSync(join(shared('gen-000001'), img)).ino,
        'the referenced image was copied, not linked');
      await job.killTree(p);
      rmSync(localDir, { recursive: true, force: true });
      rmSync(shared('gen-000001'), { recursive: true });
      const q = job.restart();
      assert.equal((await q.waitFor(/^verified \d+ ([0-9a-f]{16})$/, 30000))[1], sum, q.tail());
      await job.killTree(q);
    } finally {
      await job.cleanup();
      rmSync(localDir, { recursive: true, force: true });
    }
  });

  it('--keep 1 and a chunk changed at every checkpoint: dead images are not kept alive, the one generation left restores', async () => {
    const job = new Job();
    try {
      const p = job.launch([chunks, '64'], { flags: ['--incremental', '--keep', '1'] });
      await p.waitFor(/^ready 64 MiB/);
      const first = await job.checkpoint();
      let sum = '';
      let last = first;
      for (let i = 0; i < 4; i++) {
        sum = await changeOneChunk(job, p);
        last = await job.checkpoint();
        // The same chunk changes each time: the previous image holds only dead bytes then,
        // and is not referenced; the first one, mostly wanted, is.
        const m = JSON.parse(readFileSync(join(last.dir, 'manifest.json'), 'utf8'));
        assert.deepEqual(m.processes[0].refs.map((f: { name: string }) => f.name.replace(/.*\./, '')), ['g000001'], JSON.stringify(m.processes[0].refs));
        assert.ok(last.bytes < first.bytes / 2, `generation ${last.generation}: ${last.bytes} bytes`);
      }
      await waitUntil(() => readdirSync(job.dir).filter((n) => /^gen-\d{6}$/.test(n)).length === 1, 'pruned to one generation');
      assert.ok(!existsSync(first.dir));
      await job.killTree(p);
      const q = job.restart();
      assert.equal((await q.waitFor(/^verified \d+ ([0-9a-f]{16})$/, 30000))[1], sum, q.tail());
      await job.killTree(q);
    } finally {
      await job.cleanup();
    }
  });

  it('memory changed without a write (MADV_DONTNEED, a new mapping at the same address) is seen: the restored memory is the new one', async () => {
    for (const mode of ['stopped', 'forked']) {
      const job = new Job();
      try {
        const p = job.launch([chunks, '64'], { flags: ['--incremental', ...(mode === 'forked' ? ['--forked'] : [])] });
        await p.waitFor(/^ready 64 MiB/);
        await job.checkpoint();
        await job.checkpoint();
        const sum = await changeOneChunk(job, p, 'SIGUSR2');
        await job.checkpoint();
        await job.killTree(p);
        const q = job.restart();
        assert.equal((await q.waitFor(/^verified \d+ ([0-9a-f]{16})$/, 30000))[1], sum, `${mode}: ${q.tail()}`);
        // Restored, then changed by a write: the next image has it too.
        const changed = await changeOneChunk(job, q);
        await job.checkpoint();
        await job.checkpoint();
        await job.killTree(q);
        const r = job.restart();
        assert.equal((await r.waitFor(/^verified \d+ ([0-9a-f]{16})$/, 30000))[1], changed, `${mode}: ${r.tail()}`);
        await job.killTree(r);
      } finally {
        await job.cleanup();
      }
    }
  });
});
