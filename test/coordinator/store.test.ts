// The image store (src/images/store.ts) on real temporary directories.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync,
  writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveGeneration, Store } from '../../src/images/store.js';
import { generationName, type Manifest } from '../../src/images/manifest.js';

function manifest(generation: number, image = 'prog-host-1.img', bytes = 5): Manifest {
  return {
    format: 'stasis-manifest', version: 1, generation, createdAt: new Date().toISOString(), stasisVersion: 'test',
    job: { rm: 'local', id: null, hosts: ['host'] }, seconds: 0.1, totalBytes: bytes,
    processes: [{ pid: 1, host: 'host', name: 'prog', image, bytes, checksum: 'crc32c:0a1b2c3d' }],
  };
}

/** Begins, writes one image and commits generation `g`. */
function commitGen(store: Store, g: number): string {
  const tmp = store.begin(g);
  writeFileSync(join(tmp, 'prog-host-1.img'), 'hello', { mode: 0o644 });
  return store.commit(manifest(g));
}

describe('image store', () => {
  let dir = '';
  let store: Store;
  beforeEach(() => {
    dir = join(mkdtempSync(join(tmpdir(), 'stasis-store-')), 'ckpt');
    store = new Store(dir);
  });
  afterEach(() => rmSync(join(dir, '..'), { recursive: true, force: true }));

  it('ensure() creates the store directory with mode 0700', () => {
    store.ensure();
    assert.equal(statSync(dir).mode & 0o777, 0o700);
  });

  it('commit: images and manifest are 0600, the temporary directory is renamed away, latest points at it', () => {
    const tmp = store.begin(1);
    assert.equal(tmp, join(dir, '.gen-000001.tmp'));
    assert.ok(existsSync(tmp));
    assert.deepEqual(store.generations(), [], 'a generation being written is not committed');
    writeFileSync(join(tmp, 'prog-host-1.img'), 'hello', { mode: 0o644 });
    const final = store.commit(manifest(1));
    assert.equal(final, join(dir, 'gen-000001'));
    assert.ok(!existsSync(tmp), 'temporary directory left behind');
    assert.equal(statSync(join(final, 'manifest.json')).mode & 0o777, 0o600);
    assert.equal(statSync(join(final, 'prog-host-1.img')).mode & 0o777, 0o600);
    assert.equal(readlinkSync(join(dir, 'latest')), 'gen-000001', 'latest is a relative symlink');
    assert.deepEqual(store.readManifest(1), JSON.parse(readFileSync(join(final, 'manifest.json'), 'utf8')));
    assert.deepEqual(store.generations(), [1]);
    assert.equal(store.latest(), 1);
    assert.equal(store.nextGeneration(), 2);
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.')), [], 'temporary files left in the store');
  });

  it('commit leaves an image its process made 0600 as it is (no chmod: its inode, ctime included, untouched)', async () => {
    // A chmod that changes nothing still dirties the inode, and made the
    // commit of 1024 processes' images take seconds (bench/coordinator.sh).
    const tmp = store.begin(1);
    writeFileSync(join(tmp, 'prog-host-1.img'), 'hello', { mode: 0o600 });
    const before = statSync(join(tmp, 'prog-host-1.img')).ctimeMs;
    await new Promise((r) => setTimeout(r, 20));
    const final = store.commit(manifest(1));
    const after = statSync(join(final, 'prog-host-1.img'));
    assert.equal(after.mode & 0o777, 0o600);
    assert.equal(after.ctimeMs, before, 'the image was changed by the commit');
  });

  it('commit moves latest to the new generation each time', () => {
    commitGen(store, 1);
    commitGen(store, 2);
    assert.equal(readlinkSync(join(dir, 'latest')), 'gen-000002');
    assert.equal(store.latest(), 2);
  });

  it('commit refuses to overwrite an existing generation directory', () => {
    commitGen(store, 1);
    const before = readFileSync(join(dir, 'gen-000001', 'manifest.json'), 'utf8');
    const tmp = store.begin(1);
    writeFileSync(join(tmp, 'prog-host-1.img'), 'other');
    assert.throws(() => store.commit(manifest(1)), /gen-000001 already exists: refusing to overwrite/);
    assert.equal(readFileSync(join(dir, 'gen-000001', 'manifest.json'), 'utf8'), before);
    assert.equal(readFileSync(join(dir, 'gen-000001', 'prog-host-1.img'), 'utf8'), 'hello');
  });

  it('commit refuses an image whose size differs from the reported bytes', () => {
    const tmp = store.begin(1);
    writeFileSync(join(tmp, 'prog-host-1.img'), 'hello!!');
    assert.throws(() => store.commit(manifest(1)), /size differs/);
    assert.ok(!existsSync(join(dir, 'gen-000001')));
    store.abort(1);
    assert.ok(!existsSync(tmp));
  });

  it('generations() ignores .gen-*.tmp, half-deleted, manifest-less and foreign entries', () => {
    commitGen(store, 2);
    commitGen(store, 5);
    mkdirSync(join(dir, '.gen-000007.tmp'));
    writeFileSync(join(dir, '.gen-000007.tmp', 'manifest.json'), '{}');
    mkdirSync(join(dir, '.gen-000001.deleting'));
    writeFileSync(join(dir, '.gen-000001.deleting', 'manifest.json'), '{}');
    mkdirSync(join(dir, 'gen-000009'));               // no manifest: never committed
    mkdirSync(join(dir, 'gen-12'));                   // not six digits
    writeFileSync(join(dir, 'gen-000010'), 'a file');
    assert.deepEqual(store.generations(), [2, 5]);
    assert.equal(store.latest(), 5);
  });

  it('nextGeneration() is above every gen-NNNNNN name, even one left without manifest', () => {
    assert.equal(store.nextGeneration(), 1);
    commitGen(store, 2);
    assert.equal(store.nextGeneration(), 3);
    mkdirSync(join(dir, 'gen-000004'));               // a leftover: never committed
    assert.equal(store.nextGeneration(), 5);
    assert.deepEqual(store.generations(), [2]);
  });

  it('latest() falls back to the newest committed generation when the link is missing or dangling', () => {
    commitGen(store, 1);
    commitGen(store, 2);
    unlinkSync(join(dir, 'latest'));
    assert.equal(store.latest(), 2);
    symlinkSync('gen-000042', join(dir, 'latest'));
    assert.equal(store.latest(), 2);
    assert.equal(new Store(join(dir, 'nope')).latest(), null);
  });

  it('prune(keep) keeps the newest N and never deletes the generation latest points at', () => {
    for (let g = 1; g <= 5; g++) commitGen(store, g);
    assert.deepEqual(store.prune(0), [], 'keep 0 keeps everything');
    assert.deepEqual(store.prune(2), [1, 2, 3]);
    assert.deepEqual(store.generations(), [4, 5]);
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.')), [], 'trash left behind');
    // latest pointing at an older generation (e.g. set by hand) survives pruning.
    unlinkSync(join(dir, 'latest'));
    symlinkSync('gen-000004', join(dir, 'latest'));
    assert.deepEqual(store.prune(1), []);
    assert.deepEqual(store.generations(), [4, 5]);
    commitGen(store, 6);
    unlinkSync(join(dir, 'latest'));
    symlinkSync('gen-000004', join(dir, 'latest'));
    assert.deepEqual(store.prune(1), [5]);
    assert.deepEqual(store.generations(), [4, 6]);
    assert.equal(readlinkSync(join(dir, 'latest')), 'gen-000004');
  });

  it('begin() replaces a temporary directory left by a crashed coordinator', () => {
    store.ensure();
    mkdirSync(join(dir, '.gen-000001.tmp'));
    writeFileSync(join(dir, '.gen-000001.tmp', 'stale.img'), 'x');
    const tmp = store.begin(1);
    assert.deepEqual(readdirSync(tmp), []);
  });
});

describe('resolveGeneration (what stasis restart D|gen means)', () => {
  let root = '';
  let dir = '';
  let store: Store;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'stasis-resolve-'));
    dir = join(root, 'ckpt');
    store = new Store(dir);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  /** The error message, checked to be one line. */
  function error(target: string): string {
    try { resolveGeneration(target); } catch (e) {
      const m = (e as Error).message;
      assert.ok(!m.includes('\n'), `not one line: ${m}`);
      return m;
    }
    assert.fail(`resolveGeneration(${target}) did not throw`);
  }

  it('a ckpt dir means the generation latest points at; a gen dir means itself; D/latest works too', () => {
    commitGen(store, 1);
    commitGen(store, 2);
    const a = resolveGeneration(dir);
    assert.equal(a.generation, 2);
    assert.equal(a.dir, join(dir, 'gen-000002'));
    assert.equal(a.store.dir, dir);
    const b = resolveGeneration(join(dir, 'gen-000001'));
    assert.equal(b.generation, 1);
    assert.equal(b.manifest.generation, 1);
    assert.equal(b.store.dir, dir);
    const c = resolveGeneration(join(dir, 'latest'));
    assert.equal(c.generation, 2);
    assert.equal(c.store.dir, dir);
  });

  it('a missing directory', () => {
    assert.match(error(join(root, 'nope')), /nope: no such checkpoint directory$/);
  });

  it('a file instead of a directory', () => {
    writeFileSync(join(root, 'f'), '');
    assert.match(error(join(root, 'f')), /: not a directory$/);
  });

  it('an empty directory', () => {
    mkdirSync(dir);
    assert.match(error(dir), /ckpt: no committed checkpoint generation in this directory$/);
  });

  it('side files are fsynced at commit: beside an image, or shared under their own name', () => {
    const tmp = store.begin(1);
    writeFileSync(join(tmp, 'prog-host-1.img'), 'hello');
    writeFileSync(join(tmp, 'prog-host-1.img.shm'), 'abc', { mode: 0o644 });
    writeFileSync(join(tmp, 'shm-00-1b-7.data'), 'abcd', { mode: 0o644 });
    const m = manifest(1);
    m.processes[0]!.files = [{ name: 'prog-host-1.img.shm', bytes: 3, checksum: 'crc32c:0a1b2c3d' },
      { name: 'shm-00-1b-7.data', bytes: 4, checksum: 'crc32c:0a1b2c3d' }];
    const final = store.commit(m);
    assert.equal(statSync(join(final, 'shm-00-1b-7.data')).mode & 0o777, 0o600);
    assert.deepEqual(resolveGeneration(dir).manifest.processes[0]!.files?.map((f) => f.name), ['prog-host-1.img.shm', 'shm-00-1b-7.data']);
    const tmp2 = store.begin(2);
    writeFileSync(join(tmp2, 'prog-host-1.img'), 'hello');
    writeFileSync(join(tmp2, 'shm-00-1b-7.data'), 'ab');   // shorter than its writer reported
    const m2 = manifest(2);
    m2.processes[0]!.files = [{ name: 'shm-00-1b-7.data', bytes: 4, checksum: 'crc32c:0a1b2c3d' }];
    assert.throws(() => store.commit(m2), /shm-00-1b-7\.data: size differs from what its process reported/);
  });

  it('a directory holding only a generation being written', () => {
    store.begin(1);
    assert.match(error(dir), /no committed checkpoint generation/);
  });

  it('a generation directory without manifest.json', () => {
    mkdirSync(join(dir, generationName(3)), { recursive: true });
    assert.match(error(join(dir, 'gen-000003')), /gen-000003: no manifest\.json: not a committed generation$/);
  });

  for (const [what, text] of [
    ['not JSON', '{"format": "stasis-manifest", '],
    ['not a manifest', '{"hello": 1}'],
    ['a bad process entry', JSON.stringify({ ...manifest(1), processes: [{ image: '../x', pid: 1, bytes: 1, checksum: 'nope' }] })],
    ['a side file outside the generation', JSON.stringify({ ...manifest(1), processes: [{ ...manifest(1).processes[0], files: [{ name: '../shm-1.data', bytes: 1, checksum: 'crc32c:0a1b2c3d' }] }] })],
    ['one process of one origin listed twice', JSON.stringify({ ...manifest(1), processes: [
      { ...manifest(1).processes[0], origin: 'n2', pid: 7 }, { ...manifest(1).processes[0], host: 'n4', origin: 'n2', pid: 7 }] })],
    ['a side file named manifest.json', JSON.stringify({ ...manifest(1), processes: [{ ...manifest(1).processes[0], files: [{ name: 'manifest.json', bytes: 1, checksum: 'crc32c:0a1b2c3d' }] }] })],
  ] as const) {
    it(`a corrupt manifest.json (${what}) is named in a one-line error`, () => {
      commitGen(store, 1);
      const file = join(dir, 'gen-000001', 'manifest.json');
      rmSync(file);
      writeFileSync(file, text);
      const m = error(dir);
      assert.ok(m.startsWith(`${file}: corrupt manifest: `), m);
      assert.ok(error(join(dir, 'gen-000001')).startsWith(`${file}: corrupt manifest`));
    });
  }
});
