// The reader on images built byte by byte from the spec: a valid one is
// summarized, and each kind of damage is refused with the right word.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readImage } from '../../src/images/reader.js';
import {
  ALIGNED, PAGE, T, assemble, endPayload, headerPayload, meta, regionPayload, sampleRecords, type Rec,
} from './image-builder.js';

let dir = '';
const flip = (b: Buffer, at: number, mask: number) => b.writeUInt8(b.readUInt8(at) ^ mask, at);
let n = 0;
function file(bytes: Buffer): string {
  const path = join(dir, `img-${n++}.img`);
  writeFileSync(path, bytes);
  return path;
}

/** Expects readImage to refuse `bytes` with one line `<path>: <word>: …` matching `detail`. */
async function refused(bytes: Buffer, word: 'truncated' | 'corrupt' | 'unsupported', detail: RegExp): Promise<void> {
  const path = file(bytes);
  await assert.rejects(readImage(path), (e: Error) => {
    assert.ok(e.message.startsWith(`${path}: ${word}: `), e.message);
    assert.match(e.message, detail);
    assert.ok(!e.message.includes('\n'), 'one line');
    return true;
  });
}

describe('image reader', () => {
  before(() => { dir = mkdtempSync(join(tmpdir(), 'stasis-reader-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('verifies and summarizes a valid image', async () => {
    const { image, checksum } = assemble(sampleRecords());
    const s = await readImage(file(image));
    assert.equal(s.checksum, checksum);
    assert.equal(s.records, 6);
    assert.equal(s.header.magic, 'STASIS01');
    assert.equal(s.header.pid, 4242);
    assert.equal(s.header.restartEntry, '0x7f0000001000');
    assert.deepEqual(s.meta, meta);
    assert.equal(s.regions.length, 2);
    assert.deepEqual(s.regions[0], {
      start: '0x400000', end: '0x404000', bytes: 4 * PAGE, fileOffset: '0x0', prot: 'rw-',
      flags: ['CONTENTS', 'HEAP'], path: '[heap]',
      pages: { records: 2, savedBytes: 3 * PAGE, storedBytes: PAGE + sampleRecords()[4]!.payload.length },
    });
    assert.equal(s.regions[1]!.prot, 'r-x');
    assert.deepEqual(s.regions[1]!.flags, ['FILE']);
    assert.equal(s.regions[1]!.pages.records, 0);
    assert.equal(s.totals.fileBytes, image.length);
    assert.equal(s.totals.savedBytes, 3 * PAGE);
    assert.equal(s.totals.contentsBytes, 4 * PAGE);
    assert.equal(s.totals.zeroElidedBytes, PAGE);
    assert.equal(s.totals.compressedRecords, 1);
  });

  it('places the aligned payload on a page boundary (the builder follows the spec)', () => {
    const { image, offsets } = assemble(sampleRecords());
    const pagesHeader = offsets[3]!;
    const payloadAt = Math.ceil((pagesHeader + 40) / PAGE) * PAGE;
    assert.equal(image[payloadAt], 0xab);
    assert.equal(image[payloadAt - 1], 0);
  });

  it('streams PAGES larger than its read window (3 runs of 8 MiB)', async () => {
    const run = 8 << 20;
    const recs: Rec[] = [
      { type: T.HEADER, payload: headerPayload() },
      { type: T.REGION, payload: regionPayload(0x10000000n, 0x10000000n + BigInt(3 * run), 3, 4, '') },
    ];
    for (let i = 0; i < 3; i++)
      recs.push({ type: T.PAGES, flags: ALIGNED, addr: 0x10000000n + BigInt(i * run), payload: Buffer.alloc(run, i + 1) });
    recs.push({ type: T.END, payload: endPayload(recs.length, 3 * run) });
    const { image, checksum } = assemble(recs);
    const s = await readImage(file(image));
    assert.equal(s.checksum, checksum);
    assert.equal(s.meta, null);
    assert.equal(s.totals.savedBytes, 3 * run);
    flip(image, image.length - 100 - 16 - 40, 1);   // inside the last run
    await refused(image, 'corrupt', /record 4 .*payload checksum mismatch/);
  });

  describe('refuses', () => {
    const good = () => assemble(sampleRecords());

    it('a file cut inside a record header', async () => {
      const { image, offsets } = good();
      await refused(image.subarray(0, offsets[2]! + 20), 'truncated', /record 2 .*ends inside the record header/);
    });

    it('a file cut inside a payload', async () => {
      const { image, offsets } = good();
      await refused(image.subarray(0, offsets[4]! - 100), 'truncated', /record 3 .*payload .*past the end/);
    });

    it('a file that stops at a record boundary before END', async () => {
      const { image, offsets } = good();
      await refused(image.subarray(0, offsets[6]!), 'truncated', /no END record/);
    });

    it('an empty file', async () => {
      await refused(Buffer.alloc(0), 'truncated', /empty/);
    });

    it('a flipped bit in a payload', async () => {
      const { image, offsets } = good();
      flip(image, offsets[1]! + 45, 0x04);   // inside the META JSON
      await refused(image, 'corrupt', /record 1 .*payload checksum mismatch/);
    });

    it('a flipped bit in a PAGES payload', async () => {
      const { image } = good();
      flip(image, 2 * PAGE - 1, 0x80);       // last byte of the aligned page
      await refused(image, 'corrupt', /record 3 .*payload checksum mismatch/);
    });

    it('a flipped bit in a record header', async () => {
      const { image, offsets } = good();
      flip(image, offsets[2]! + 17, 0x01);   // stored length of the first REGION
      await refused(image, 'corrupt', /record 2 .*header checksum mismatch/);
    });

    it('a flipped bit in a header crc', async () => {
      const { image, offsets } = good();
      flip(image, offsets[5]! + 38, 0x10);
      await refused(image, 'corrupt', /record 5 .*header checksum/);
    });

    it('data after END', async () => {
      await refused(Buffer.concat([good().image, Buffer.from([0])]), 'corrupt', /1 bytes of data after the END record/);
    });

    it('a second END (a record after END)', async () => {
      const recs = sampleRecords();
      const { image } = assemble([...recs, recs.at(-1)!]);
      await refused(image, 'corrupt', /after the END record/);
    });

    it('a non-zero alignment gap', async () => {
      const { image, offsets } = good();
      image[offsets[3]! + 40 + 5] = 1;
      await refused(image, 'corrupt', /alignment gap is not zero/);
    });

    it('an END that miscounts records', async () => {
      const recs = sampleRecords();
      recs[recs.length - 1] = { type: T.END, payload: endPayload(5, 3 * PAGE) };
      await refused(assemble(recs).image, 'corrupt', /END counts 5 records but 6/);
    });

    it('an END that miscounts memory', async () => {
      const recs = sampleRecords();
      recs[recs.length - 1] = { type: T.END, payload: endPayload(6, PAGE) };
      await refused(assemble(recs).image, 'corrupt', /END counts 4096 memory bytes/);
    });

    it('an unknown record type', async () => {
      const recs = sampleRecords();
      recs.splice(2, 0, { type: 9, payload: Buffer.from('?') });
      await refused(assemble(recs).image, 'corrupt', /record 2 .*unknown record type 9/);
    });

    it('unknown compression', async () => {
      const recs = sampleRecords();
      recs[4] = { ...recs[4]!, flags: 7 };
      await refused(assemble(recs).image, 'corrupt', /record 4 .*unknown compression 7/);
    });

    it('compression 3, which the format does not name', async () => {
      const recs = sampleRecords();
      recs[4] = { ...recs[4]!, flags: 3 };
      await refused(assemble(recs).image, 'corrupt', /record 4 .*unknown compression 3/);
    });

    it('PAGES outside their region', async () => {
      const recs = sampleRecords();
      recs[3] = { ...recs[3]!, addr: 0x404000n };
      await refused(assemble(recs).image, 'corrupt', /outside their region/);
    });

    it('uncompressed PAGES that are not ALIGNED', async () => {
      const recs = sampleRecords();
      recs[3] = { ...recs[3]!, flags: 0 };
      await refused(assemble(recs).image, 'corrupt', /must be ALIGNED/);
    });

    it('a file that is not an image', async () => {
      await refused(Buffer.from('#!/bin/sh\necho hello, this is not an image at all\n'), 'corrupt', /not a stasis image/);
    });

    it('an image whose first record is not HEADER', async () => {
      await refused(assemble(sampleRecords().slice(1)).image, 'corrupt', /not a stasis image/);
    });

    it('another image version', async () => {
      const recs = sampleRecords();
      const h = headerPayload();
      h.writeUInt32LE(2, 8);
      recs[0] = { type: T.HEADER, payload: h };
      await refused(assemble(recs).image, 'unsupported', /image version 2/);
    });
  });

  it('names a missing file', async () => {
    await assert.rejects(readImage(join(dir, 'nope.img')), /nope\.img: no such file/);
  });
});
