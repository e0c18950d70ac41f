// Failures name what failed (issue 9, item 12): an aborted requested
// checkpoint is in coordinator.log, a full disk while writing the manifest
// names the manifest, a garbage coordinator.json is called corrupt, and a
// file in the way of --ckpt-dir is one clear line.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job, programs } from '../helpers/stasis.js';
import { Store } from '../../src/images/store.js';
import type { Manifest } from '../../src/images/manifest.js';

const unsupported = join(programs, 'unsupported');

function assertOneLineError(r: { exitCode?: number; stderr: string; stdout: string }, re: RegExp): void {
  assert.notEqual(r.exitCode, 0, `exit 0: ${r.stdout}`);
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, `not one line: ${r.stderr}`);
  assert.match(r.stderr, /^stasis: /);
  assert.match(r.stderr, re);
}

describe('failures name what failed', function () {
  this.timeout(60000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-errors-'); });
  afterEach(() => job.cleanup());

  it('an aborted `stasis command --checkpoint` is in coordinator.log, as interval ones are', async () => {
    const p = job.launch([unsupported, 'io_uring']);
    await p.waitFor(/^tick 1$/);
    const r = await job.cli(['command', '--ckpt-dir', job.dir, '--checkpoint']);
    assertOneLineError(r, /checkpoint aborted, generation 1 not committed: .*io_uring/);
    const log = readFileSync(join(job.dir, 'coordinator.log'), 'utf8');
    assert.match(log, /requested checkpoint: checkpoint aborted, generation 1 not committed: .*io_uring.*not supported/);
  });

  it('a garbage coordinator.json is reported as corrupt, naming it, not as missing', async () => {
    writeFileSync(join(job.dir, 'coordinator.json'), '\u0000\u0001 garbage');
    const r = await job.cli(['command', '--ckpt-dir', job.dir, '--status']);
    assertOneLineError(r, new RegExp(`${join(job.dir, 'coordinator.json')} is corrupt`));
    writeFileSync(join(job.dir, 'coordinator.json'), '{"host": "127.0.0.1"}');
    assertOneLineError(await job.cli(['command', '--ckpt-dir', job.dir, '--status']), /coordinator\.json is corrupt/);
  });

  it('launch --ckpt-dir naming a file (or a path through one) is one clear line', async () => {
    const file = join(job.dir, 'a-file');
    writeFileSync(file, 'x');
    for (const dir of [file, join(file, 'sub')]) {
      const r = await job.cli(['launch', '--ckpt-dir', dir, '--', unsupported, 'none']);
      assertOneLineError(r, new RegExp(`checkpoint directory ${dir}: a file is in the way \\(not a directory\\)$`));
      assert.doesNotMatch(r.stderr, /EEXIST|ENOTDIR/);
    }
  });
});

describe('a full disk while committing', function () {
  this.timeout(30000);
  let mnt = '';
  before(async function () {
    mnt = mkdtempSync(join(tmpdir(), 'stasis-full-'));
    const m = await execa('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt], { reject: false });
    if (m.exitCode !== 0) { rmSync(mnt, { recursive: true, force: true }); this.skip(); }   // needs root: a real full filesystem
  });
  after(async () => {
    if (!mnt) return;
    await execa('umount', [mnt], { reject: false });
    rmSync(mnt, { recursive: true, force: true });
  });

  it('ENOSPC while writing the manifest names the manifest', () => {
    const store = new Store(join(mnt, 'ckpt'));
    const tmp = store.begin(1);
    writeFileSync(join(tmp, 'prog-host-1.img'), 'hello');
    // Fill what is left, a page at a time, until the filesystem says ENOSPC.
    mkdirSync(join(mnt, 'filler'));
    const fd = openSync(join(mnt, 'filler', 'f'), 'w');
    try { for (;;) writeSync(fd, Buffer.alloc(4096, 1)); } catch (e) {
      assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally { closeSync(fd); }
    const manifest: Manifest = {
      format: 'stasis-manifest', version: 1, generation: 1, createdAt: new Date().toISOString(), stasisVersion: 'test',
      job: { rm: 'local', id: null, hosts: ['host'] }, seconds: 0.1, totalBytes: 5,
      processes: [{ pid: 1, host: 'host', name: 'prog', image: 'prog-host-1.img', bytes: 5, checksum: 'crc32c:0a1b2c3d' }],
    };
    assert.throws(() => store.commit(manifest),
      new RegExp(`^Error: ${join(tmp, 'manifest.json')}: cannot write: ENOSPC \\(no space left on device\\)$`));
  });
});
