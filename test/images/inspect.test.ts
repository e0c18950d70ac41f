// `stasis inspect` on checkpoint directories built from synthetic images:
// the three kinds of target, the manifest cross-check, and the CLI's output.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { inspect } from '../../src/images/inspect.js';
import { generationName, type Manifest } from '../../src/images/manifest.js';
import { stasisBin } from '../helpers/stasis.js';
import { assemble, sampleRecords } from './image-builder.js';

const IMAGE = 'counter-vm-4242.img';

/** A ckpt dir with generations 1 and 2 (latest → 2); returns the image's checksum. */
function makeStore(dir: string, edit: (m: Manifest) => void = () => undefined): string {
  const { image, checksum } = assemble(sampleRecords());
  for (const g of [1, 2]) {
    const gen = join(dir, generationName(g));
    mkdirSync(gen, { recursive: true });
    writeFileSync(join(gen, IMAGE), image);
    const m: Manifest = {
      format: 'stasis-manifest', version: 1, generation: g, createdAt: '2026-11-24T12:00:00.000Z',
      stasisVersion: '0.1.0', job: { rm: 'local', id: null, hosts: ['vm'] }, seconds: 0.1,
      totalBytes: image.length,
      processes: [{ pid: 4242, host: 'vm', name: 'counter', image: IMAGE, bytes: image.length, checksum }],
    };
    if (g === 2) edit(m);
    writeFileSync(join(gen, 'manifest.json'), JSON.stringify(m));
  }
  symlinkSync(generationName(2), join(dir, 'latest'));
  return checksum;
}

describe('stasis inspect', () => {
  let dir = '';
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'stasis-inspect-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a ckpt dir means the generation `latest` points at', async () => {
    const checksum = makeStore(dir);
    const r = await inspect(dir);
    assert.equal(r.kind, 'generation');
    if (r.kind !== 'generation') return;
    assert.equal(r.generation, 2);
    assert.equal(r.processes.length, 1);
    const p = r.processes[0]!;
    assert.equal(p.pid, 4242);
    assert.equal(p.name, 'counter');
    assert.equal(p.threads, 2);
    assert.equal(p.regions, 2);
    assert.equal(p.checksum, checksum);
  });

  it('a manifest written before 2026-12-03 (image checksum over whole headers) is still accepted', async () => {
    makeStore(dir, (m) => { m.processes[0]!.checksum = assemble(sampleRecords()).legacyChecksum; });
    const r = await inspect(dir);
    assert.equal(r.kind, 'generation');
  });

  it('a generation dir or a single image', async () => {
    const checksum = makeStore(dir);
    const g = await inspect(join(dir, 'gen-000001'));
    assert.equal(g.kind === 'generation' && g.generation, 1);
    const i = await inspect(join(dir, 'gen-000001', IMAGE));
    assert.equal(i.kind, 'image');
    assert.equal(i.processes[0]!.checksum, checksum);
    assert.equal(i.processes[0]!.name, 'counter');   // from META's exe
  });

  it('an image whose checksum differs from the manifest is corrupt', async () => {
    makeStore(dir, (m) => { m.processes[0]!.checksum = 'crc32c:00000000'; });
    await assert.rejects(inspect(dir), /counter-vm-4242\.img: corrupt: checksum crc32c:[0-9a-f]{8} but the manifest says crc32c:00000000/);
  });

  it('an image whose size differs from the manifest is corrupt', async () => {
    makeStore(dir, (m) => { m.processes[0]!.bytes += 1; });
    await assert.rejects(inspect(dir), /counter-vm-4242\.img: corrupt: \d+ bytes but the manifest says/);
  });

  it('an image listed in the manifest but missing is named', async () => {
    makeStore(dir, (m) => { m.processes[0]!.image = 'gone.img'; });
    await assert.rejects(inspect(dir), /gone\.img: no such file/);
  });

  it('a ckpt dir without any generation is a clear error', async () => {
    await assert.rejects(inspect(dir), /no committed checkpoint generation/);
  });

  it('a missing path is named', async () => {
    await assert.rejects(inspect(join(dir, 'nothing-here')), /nothing-here: no such file or directory/);
  });

  describe('command line', () => {
    const cli = (args: string[]) => execa('node', [stasisBin, 'inspect', ...args], { reject: false, stdin: 'ignore' });

    it('prints a summary, or one JSON object with --json', async () => {
      const checksum = makeStore(dir);
      const text = await cli([dir]);
      assert.equal(text.exitCode, 0, text.stderr);
      assert.match(text.stdout, /^generation 2 /);
      assert.match(text.stdout, /process 4242 on vm: counter/);
      assert.match(text.stdout, /threads 2, regions 2/);
      assert.match(text.stdout, /compression \d+\.\d\dx/);
      assert.match(text.stdout, /checksums verified/);
      const json = await cli([dir, '--json']);
      assert.equal(json.exitCode, 0, json.stderr);
      const r = JSON.parse(json.stdout);
      assert.equal(r.processes[0].checksum, checksum);
      assert.equal(r.processes[0].detail.meta.exe, '/opt/bin/counter');
    });

    it('refuses a damaged image with one line on stderr and a non-zero exit', async () => {
      makeStore(dir);
      const img = join(dir, 'gen-000002', IMAGE);
      const { image } = assemble(sampleRecords());
      writeFileSync(img, image.subarray(0, image.length - 1));
      const r = await cli([dir]);
      assert.notEqual(r.exitCode, 0);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^stasis: .*counter-vm-4242\.img: truncated: [^\n]*$/);
    });

    it('names a missing path', async () => {
      const r = await cli([join(dir, 'missing')]);
      assert.notEqual(r.exitCode, 0);
      assert.match(r.stderr, /^stasis: .*missing: no such file or directory$/);
    });
  });
});
