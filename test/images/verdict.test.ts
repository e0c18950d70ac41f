// One verdict (issue 9, item 10): each image that `stasis inspect`'s reader
// refuses, the restart loader refuses too, with the same word — and a valid
// image passes both. Images are built from the spec (image-builder.ts).
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readImage } from '../../src/images/reader.js';
import { repoRoot, stasisBin } from '../helpers/stasis.js';
import { ALIGNED, PAGE, T, ZSTD, assemble, endPayload, headerPayload, regionPayload, sampleRecords, type Rec } from './image-builder.js';

const loader = join(repoRoot, 'native', 'build', 'stasis-restart');
type Word = 'corrupt' | 'unsupported' | 'truncated';

/** sampleRecords() with `change` applied, END recounted. */
function variant(change: (recs: Rec[]) => void): Rec[] {
  const recs = sampleRecords().slice(0, -1);
  change(recs);
  const memory = recs.filter((r) => r.type === T.PAGES).reduce((n, r) => n + Number(r.raw ?? BigInt(r.payload.length)), 0);
  return [...recs, { type: T.END, payload: endPayload(recs.length, memory) }];
}

const UNNAMED_COMPRESSION = 3;
const cases: Array<[string, Word, () => Buffer]> = [
  ['a non-zero alignment gap before an uncompressed payload', 'corrupt', () => {
    const { image, offsets } = assemble(sampleRecords());
    image[offsets[3]! + 40 + 100] = 1;   // record 3: the ALIGNED page; the gap is not checksummed
    return image;
  }],
  ['an unknown flag bit', 'corrupt', () => assemble(variant((r) => { r[1]!.flags = 0x20; })).image],
  ['uncompressed PAGES that are not ALIGNED', 'corrupt', () => assemble(variant((r) => { r[3]!.flags = 0; })).image],
  ['PAGES overlapping earlier pages', 'corrupt', () => assemble(variant((r) => { r[4]!.addr = 0x401000n; })).image],
  ['PAGES in a region without CONTENTS', 'corrupt', () => assemble(variant((r) => {
    r[2]!.payload = regionPayload(0x400000n, 0x404000n, 3, 16, '[heap]');
  })).image],
  ['PAGES of more than 8 MiB', 'corrupt', () => assemble(variant((r) => {
    r[2]!.payload = regionPayload(0x400000n, 0x2000000n, 3, 4 | 16, '[heap]');
    r[4]!.raw = 16n << 20n;
  })).image],
  ['END counting other memory bytes', 'corrupt', () => {
    const recs = sampleRecords();
    recs[recs.length - 1] = { type: T.END, payload: endPayload(recs.length - 1, 2 * PAGE) };
    return assemble(recs).image;
  }],
  ['a META record with an address', 'corrupt', () => assemble(variant((r) => { r[1]!.addr = 0x1000n; })).image],
  ['a compressed META record', 'corrupt', () => assemble(variant((r) => { r[1]!.flags = ZSTD; })).image],
  ['META that is not JSON', 'corrupt', () => assemble(variant((r) => { r[1]!.payload = Buffer.from('{"pid": 1,}'); })).image],
  ['META that is a JSON array', 'corrupt', () => assemble(variant((r) => { r[1]!.payload = Buffer.from('[1, 2]'); })).image],
  ['META with a raw control character in a string', 'corrupt', () => assemble(variant((r) => { r[1]!.payload = Buffer.from('{"a": "x\ty"}'); })).image],
  ['a second META record', 'corrupt', () => assemble(variant((r) => { r.splice(2, 0, { type: T.META, payload: Buffer.from('{}') }); })).image],
  ['a page size other than 4096', 'unsupported', () => assemble(variant((r) => {
    const h = headerPayload();
    h.writeUInt32LE(8192, 12);
    r[0]!.payload = h;
  })).image],
  ['a MAPFILE region without its file identity', 'corrupt', () => assemble(variant((r) => {
    r[2]!.payload = regionPayload(0x400000n, 0x404000n, 3, 2 | 4 | 128, '/data/input.bin');
  })).image],
  ['a MAPFILE region that is shared', 'corrupt', () => assemble(variant((r) => {
    r[2]!.payload = Buffer.concat([regionPayload(0x400000n, 0x404000n, 3, 1 | 2 | 4 | 128, '/data/input.bin'), Buffer.alloc(64)]);
  })).image],
  ['compression 3 (not in the format)', 'corrupt', () => assemble(variant((r) => { r[4]!.flags = UNNAMED_COMPRESSION; })).image],
];

describe('inspect and the restart loader give one verdict', () => {
  let dir = '';
  let n = 0;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'stasis-verdict-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (bytes: Buffer) => { const p = join(dir, `img-${n++}.img`); writeFileSync(p, bytes); return p; };

  it('a valid image passes both (nested, escaped JSON in META included)', async () => {
    const path = write(assemble(variant((r) => {
      r[1]!.payload = Buffer.from(' {"a": [1, -2.5e3, true, false, null, {"b": "q\\"\\u00e9\\n"}], "c": {}, "d": []}\n');
    })).image);
    await readImage(path);
    const l = await execa(loader, ['--verify', path], { reject: false });
    assert.equal(l.exitCode, 0, l.stderr);
  });

  it('a MAPFILE region with its file identity passes both (--verify does not read the file)', async () => {
    const path = write(assemble(variant((r) => {
      r[2]!.payload = Buffer.concat([regionPayload(0x400000n, 0x404000n, 3, 2 | 4 | 128, '/data/input.bin'), Buffer.alloc(64, 1)]);
    })).image);
    const summary = await readImage(path);
    assert.equal(summary.regions[0]!.path, '/data/input.bin');
    assert.equal(summary.regions[0]!.mappedFile?.size, Number(0x0101010101010101n));
    const l = await execa(loader, ['--verify', path], { reject: false });
    assert.equal(l.exitCode, 0, l.stderr);
  });

  for (const [what, word, build] of cases) {
    it(`${what}: both refuse it as ${word}`, async () => {
      const path = write(build());
      await assert.rejects(readImage(path), (e: Error) => e.message.startsWith(`${path}: ${word}: `) || assert.fail(e.message));
      const l = await execa(loader, ['--verify', path], { reject: false });
      assert.equal(l.exitCode, 3, `the loader accepted it: ${l.stdout}`);
      assert.match(l.stderr, new RegExp(`^stasis-restart: ${path}: ${word}: `));
    });
  }

  it('stasis inspect itself refuses the non-zero gap, as the loader does', async () => {
    const path = write(cases[0]![2]());
    const r = await execa('node', [stasisBin, 'inspect', path], { reject: false });
    assert.equal(r.exitCode, 2);
    assert.match(r.stderr, /corrupt: record 3 .*the alignment gap is not zero/);
  });
});
