import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { crc32c, crc32cImplementation, formatChecksum } from '../../src/images/crc32c.js';
import { crc32cTable } from '../../src/images/crc32c-table.js';

// RFC 3720 (iSCSI) appendix B.4 vectors and the usual check value.
const vectors: Array<[string, Buffer, number]> = [
  ['"123456789"', Buffer.from('123456789'), 0xe3069283],
  ['empty', Buffer.alloc(0), 0],
  ['32 zero bytes', Buffer.alloc(32), 0x8a9136aa],
  ['32 0xff bytes', Buffer.alloc(32, 0xff), 0x62a8ab43],
  ['bytes 0..31', Buffer.from(Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e],
  ['bytes 31..0', Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c],
];

describe('crc32c', () => {
  for (const [name, buf, want] of vectors) {
    it(`${name} → ${want.toString(16)} (${crc32cImplementation} and table)`, () => {
      assert.equal(crc32c(0, buf), want);
      assert.equal(crc32cTable(0, buf), want);
    });
  }

  it('chains like the C writer: crc32c(crc32c(0, a), b) = crc32c(0, a+b)', () => {
    const data = randomBytes(100_003);
    for (const cut of [0, 1, 7, 8, 4096, 99_999, 100_003]) {
      const a = data.subarray(0, cut), b = data.subarray(cut);
      assert.equal(crc32c(crc32c(0, a), b), crc32c(0, data));
      assert.equal(crc32cTable(crc32cTable(0, a), b), crc32c(0, data));
    }
  });

  it('the table fallback agrees with the native one on odd lengths and offsets', () => {
    const data = randomBytes(70_000);
    for (let start = 0; start < 9; start++) {
      for (const len of [0, 1, 3, 8, 9, 15, 16, 17, 1000, 65_537]) {
        const view = data.subarray(start, start + len);
        assert.equal(crc32cTable(0, view), crc32c(0, view), `start ${start} len ${len}`);
      }
    }
  });

  it('formats checksums as in the manifest', () => {
    assert.equal(formatChecksum(0x0a1b2c3d), 'crc32c:0a1b2c3d');
    assert.equal(formatChecksum(0xe3069283), 'crc32c:e3069283');
  });
});
