// The process trees of a generation (src/images/tree.ts): one loader per
// root. A manifest whose parent links make a cycle (a root's parent outside
// the job had a pid equal to one of the job's) still gives every process a
// loader: a process no loader restores stalls the whole restart.
import assert from 'node:assert/strict';
import { loaderTrees } from '../../src/images/tree.js';
import type { Manifest, ManifestProcess } from '../../src/images/manifest.js';

const proc = (pid: number, ppid: number, image: string): ManifestProcess =>
  ({ pid, ppid, pgid: pid, sid: pid, image, host: 'n2', origin: 'n4', bytes: 1, checksum: 'crc32c:00000000' }) as unknown as ManifestProcess;

describe('process trees of a generation', () => {
  it('a relay, its orted and two ranks: one loader, the relay first', () => {
    const m = { processes: [proc(2138, 900, 'relay.img'), proc(2140, 2138, 'orted.img'), proc(2425, 2140, 'a.img'), proc(2427, 2140, 'b.img')] } as unknown as Manifest;
    const t = loaderTrees(m, '/d');
    assert.equal(t.length, 1);
    assert.deepEqual(t[0]!.images, ['relay.img', 'orted.img', 'a.img', 'b.img']);
  });

  it('the relay\'s parent outside the job had pid 2425, a rank\'s: cut at the lowest pid of the cycle, every process restored once', () => {
    const m = { processes: [proc(2138, 2425, 'relay.img'), proc(2140, 2138, 'orted.img'), proc(2425, 2140, 'a.img'), proc(2427, 2140, 'b.img')] } as unknown as Manifest;
    const t = loaderTrees(m, '/d');
    assert.equal(t.length, 1);
    assert.deepEqual(t[0]!.images, ['relay.img', 'orted.img', 'a.img', 'b.img']);
    assert.match(t[0]!.argv.join(' '), /^--tree 2138:0:/, 'its recorded parent is a rank of the tree: the loader would fork it again');
  });

  it('a cycle beside a proper tree of the same origin: both restored, nothing twice', () => {
    const m = { processes: [proc(100, 1, 'main.img'), proc(101, 100, 'child.img'), proc(300, 301, 'x.img'), proc(301, 300, 'y.img')] } as unknown as Manifest;
    const images = loaderTrees(m, '/d').flatMap((t) => t.images).sort();
    assert.deepEqual(images, ['child.img', 'main.img', 'x.img', 'y.img']);
  });
});
