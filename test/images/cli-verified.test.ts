// `stasis restart` verifies every byte of an image, then runs the loader,
// which does not read again the raw chunks it maps from a file the CLI
// names in STASIS_VERIFIED (native/restart/main.c). It takes only the very
// file the CLI verified: a file written since (other times) is read whole
// again and refused when damaged.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { mkdtempSync, openSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileIdentity } from '../../src/images/restorable.js';
import { repoRoot } from '../helpers/stasis.js';
import { assemble, sampleRecords } from './image-builder.js';

const loader = join(repoRoot, 'native', 'build', 'stasis-restart');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the loader and the CLI\'s verification (STASIS_VERIFIED)', () => {
  let dir = '';
  before(() => { dir = mkdtempSync(join(tmpdir(), 'stasis-cli-verified-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** The sample image (one raw, mapped page) with that page damaged after its identity was taken. */
  async function damagedAfterVerification(): Promise<{ path: string; verified: string }> {
    const path = join(dir, `img-${Date.now()}.img`);
    const { image, offsets } = assemble(sampleRecords());
    writeFileSync(path, image);
    const verified = fileIdentity(path)!;
    // Timestamps without multigrain (kernels before 6.13) tell apart only writes a clock tick apart.
    await sleep(20);
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.from([0x00]), 0, 1, Math.ceil((offsets[3]! + 40) / 4096) * 4096 + 7);   // record 3: the raw page
    closeSync(fd);
    return { path, verified };
  }

  it('an image written after the CLI verified it is read again, and refused', async () => {
    const { path, verified } = await damagedAfterVerification();
    assert.notEqual(fileIdentity(path), verified);
    const l = await execa(loader, [path], { reject: false, env: { STASIS_VERIFIED: `1:2:3:4:5\n${verified}` } });
    assert.equal(l.exitCode, 3, l.stderr);
    assert.match(l.stderr, /corrupt: record 3 at offset \d+: payload checksum mismatch/);
  });

  it('the file the CLI names, unchanged, is not read again (its mapped page is taken as verified)', async () => {
    const { path } = await damagedAfterVerification();
    const l = await execa(loader, [path], { reject: false, env: { STASIS_VERIFIED: fileIdentity(path)!, STASIS_DEBUG: '1' } });
    assert.doesNotMatch(l.stderr, /checksum mismatch/);
    assert.match(l.stderr, /0\.0 MiB mapped from files stasis restart verified: not read again/);
  });
});
