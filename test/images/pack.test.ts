// stasis pack / unpack: a generation moved through a tar file restarts
// elsewhere, a sparse shm .data file comes back sparse, a damaged archive is
// refused before anything lands in the directory, and an existing generation
// is never replaced.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job, noBroken, numbers, programs } from '../helpers/stasis.js';
import { sleep, startCoordinator } from '../coordinator/util.js';

/** Offset and size of the data of the first entry whose name matches `re` in an uncompressed tar. */
function tarEntry(tar: Buffer, re: RegExp): { at: number; size: number } {
  for (let off = 0; off + 512 <= tar.length;) {
    const name = tar.toString('utf8', off, off + 100).replace(/\0.*$/s, '');
    if (!name) break;
    const size = parseInt(tar.toString('utf8', off + 124, off + 136).replace(/\0.*$/s, '').trim(), 8);
    if (re.test(name)) return { at: off + 512, size };
    off += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`no entry ${re}`);
}

describe('stasis pack / unpack', function () {
  this.timeout(120000);
  let job: Job;
  const dirs: string[] = [];
  const elsewhere = () => { const d = mkdtempSync(join(tmpdir(), 'stasis-unpack-')); dirs.push(d); return d; };
  beforeEach(() => { job = new Job('stasis-pack-'); });
  const stores: string[] = [];   // other checkpoint directories a job runs from: its processes are ended too
  afterEach(async () => {
    for (const d of stores.splice(0)) {
      const status = await job.cli(['command', '--ckpt-dir', d, '--status', '--json']);
      const clients = status.exitCode === 0 ? JSON.parse(status.stdout).clients as Array<{ kernelPid: number }> : [];
      for (const c of clients) { try { process.kill(c.kernelPid, 'SIGKILL'); } catch { /* gone */ } }
      try { process.kill(JSON.parse(readFileSync(join(d, 'coordinator.json'), 'utf8')).pid, 'SIGKILL'); } catch { /* none */ }
    }
    await job.cleanup();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('moves a generation with a 256 MiB sparse shm object: sparse again, modes kept, restarts from the new directory', async () => {
    const p = job.launch([join(programs, 'shm_sparse')], { flags: ['--interval', '0', '--keep', '2'] });
    await p.waitFor(/^seen [1-9]\d*$/, 20000);
    await sleep(300);
    const atCheckpoint = numbers(p.lines, /^seen (\d+)$/).at(-1)!;
    const g = await job.checkpoint();
    await job.killTree(p);
    noBroken(p.lines);

    const out = join(elsewhere(), 'job.tar.gz');
    const t0 = Date.now();
    const packed = await job.cli(['pack', job.dir, '-o', out]);
    console.log(`      pack of 256 MiB sparse (.tar.gz): ${Date.now() - t0} ms, ${statSync(out).size} bytes`);
    assert.equal(packed.exitCode, 0, packed.stderr);
    assert.match(packed.stdout, new RegExp(`^packed gen-000001: \\d+ files, \\d+ bytes -> ${out}$`));
    assert.ok(statSync(out).size < 16 << 20, `gzipped zeros: ${statSync(out).size} bytes`);

    const d2 = join(elsewhere(), 'ckpt');   // created by unpack
    const t1 = Date.now();
    const un = await job.cli(['unpack', out, d2]);
    console.log(`      unpack and verify: ${Date.now() - t1} ms`);
    assert.equal(un.exitCode, 0, un.stderr);
    assert.match(un.stdout, /^unpacked gen-000001 into .*, checksums verified \(latest\)$/);
    assert.equal(readlinkSync(join(d2, 'latest')), 'gen-000001');
    // The job's settings as launch wrote them (compress and save follow the test matrix's STASIS_COMPRESS, STASIS_SAVE).
    const settings = JSON.parse(readFileSync(join(job.dir, 'settings.json'), 'utf8'));
    assert.deepEqual({ interval: settings.interval, keep: settings.keep }, { interval: 0, keep: 2 });
    assert.deepEqual(JSON.parse(readFileSync(join(d2, 'settings.json'), 'utf8')), settings);
    assert.deepEqual(readdirSync(d2).sort(), ['gen-000001', 'latest', 'settings.json'], 'no temporary directory left');
    assert.equal(statSync(join(d2, 'gen-000001')).mode & 0o777, 0o700);
    const names = readdirSync(g.dir).sort();
    assert.deepEqual(readdirSync(join(d2, 'gen-000001')).sort(), names);
    for (const f of names) {
      const [a, b] = [statSync(join(g.dir, f)), statSync(join(d2, 'gen-000001', f))];
      assert.equal(b.size, a.size, f);
      assert.equal(b.mode & 0o777, a.mode & 0o777, `${f}: mode`);
    }
    const data = names.find((f) => /^shm-.*\.data$/.test(f))!;
    const st = statSync(join(d2, 'gen-000001', data));
    assert.equal(st.size, (256 << 20) + 20);
    assert.ok(st.blocks * 512 < 1 << 20, `sparse again: ${st.blocks * 512} bytes on disk`);

    stores.push(d2);
    const r = job.restart(d2);
    const first = Number((await r.waitFor(/^seen (\d+)$/, 30000))[1]);
    assert.ok(first >= atCheckpoint, `the count came back (${first}, ${atCheckpoint} before the checkpoint)`);
    for (const deadline = Date.now() + 30000; !(numbers(r.lines, /^seen (\d+)$/).at(-1)! > first);) {
      if (r.exited || Date.now() > deadline) throw new Error(`the child does not count on: ${r.tail()}`);
      await sleep(100);
    }
    noBroken(r.lines);
    assert.equal(r.exited, false);
    // The restarted job checkpoints into its new directory.
    const r2 = await job.cli(['command', '--ckpt-dir', d2, '--checkpoint', '--json']);
    assert.equal(r2.exitCode, 0, r2.stderr);
    assert.equal(JSON.parse(r2.stdout).generation, 2);
  });

  it('refuses a damaged or cut archive and an existing generation, leaving the directory as it was', async () => {
    const p = job.launch([join(programs, 'counter')]);
    await p.waitFor(/^count 3$/);
    await job.checkpoint();
    await job.checkpoint();
    await job.killTree(p);
    const where = elsewhere();
    const out = join(where, 'g1.tar');
    for (const gen of ['1', 'gen-000001']) {
      const r = await job.cli(['pack', job.dir, gen, '-o', out]);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stdout, /^packed gen-000001: /);
    }
    const bad = await job.cli(['pack', job.dir, 'gen-x', '-o', out]);
    assert.equal(bad.exitCode, 2);
    assert.match(bad.stderr, /^stasis: pack: 'gen-x' is not a generation/);

    // Into the directory it came from: gen-000001 is there, not overwritten.
    const before = readFileSync(join(job.dir, 'gen-000001', 'manifest.json'));
    const again = await job.cli(['unpack', out, job.dir]);
    assert.equal(again.exitCode, 2);
    assert.match(again.stderr, /^stasis: unpack .*g1\.tar: .*gen-000001 already exists: not overwritten$/);
    assert.deepEqual(readFileSync(join(job.dir, 'gen-000001', 'manifest.json')), before);
    assert.ok(!readdirSync(job.dir).some((n) => n.startsWith('.unpack-')));

    // Into a directory whose latest is newer: placed, latest left alone.
    const d3 = join(where, 'newer');
    const g2 = join(where, 'g2.tar');
    assert.equal((await job.cli(['pack', job.dir, '-o', g2])).exitCode, 0);
    assert.equal((await job.cli(['unpack', g2, d3])).exitCode, 0);
    const older = await job.cli(['unpack', out, d3]);
    assert.equal(older.exitCode, 0, older.stderr);
    assert.match(older.stdout, /not latest/);
    assert.equal(readlinkSync(join(d3, 'latest')), 'gen-000002');

    // Into a directory a coordinator serves: refused, nothing placed.
    const served = join(where, 'served');
    const coord = await startCoordinator(served);
    try {
      const r = await job.cli(['unpack', out, served]);
      assert.equal(r.exitCode, 2);
      assert.match(r.stderr, new RegExp(`^stasis: unpack: a coordinator \\(pid ${coord.pid}\\) serves .*served: stop it first`));
      assert.ok(!existsSync(join(served, 'gen-000001')));
    } finally { await coord.run.kill9(); }

    // One byte of the image flipped: the verifier refuses it, nothing lands.
    const tar = readFileSync(out);
    const img = tarEntry(tar, /\.img$/);
    const flipped = Buffer.from(tar);
    const at = img.at + Math.floor(img.size / 2);
    flipped.writeUInt8(flipped.readUInt8(at) ^ 0x40, at);
    const corrupt = join(where, 'corrupt.tar');
    writeFileSync(corrupt, flipped);
    const d2 = join(where, 'fresh');
    const r = await job.cli(['unpack', corrupt, d2]);
    assert.equal(r.exitCode, 2, r.stdout);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^stasis: unpack .*corrupt\.tar: .*gen-000001\/counter-.*\.img: (corrupt|truncated)/);
    assert.deepEqual(readdirSync(d2), [], 'nothing placed, no temporary directory left');

    // Cut short: not a whole archive.
    const cut = join(where, 'cut.tar');
    writeFileSync(cut, tar.subarray(0, img.at + 1000));
    const c = await job.cli(['unpack', cut, d2]);
    assert.equal(c.exitCode, 2, c.stdout);
    assert.match(c.stderr, /^stasis: unpack .*cut\.tar: /);
    assert.deepEqual(readdirSync(d2), []);
    assert.ok(!existsSync(join(d2, 'latest')));
  });
});
