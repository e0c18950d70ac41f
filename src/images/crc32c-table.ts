// CRC-32C (Castagnoli) in plain TypeScript, slicing-by-8: the fallback for
// machines where the native package has no prebuilt binary (ppc64le, for one).
// Same contract as native/core/crc32c.c: crc32cTable(prev, buf) continues a
// finished checksum, so crc32cTable(crc32cTable(0, a), b) === crc32cTable(0, a+b).

const POLY = 0x82f63b78; // reflected Castagnoli polynomial

function makeTables(): Uint32Array[] {
  const t = Array.from({ length: 8 }, () => new Uint32Array(256));
  const t0 = t[0]!;
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t0[i] = c >>> 0;
  }
  // t[k][i]: the crc of byte i followed by k zero bytes.
  for (let k = 1; k < 8; k++) {
    const prev = t[k - 1]!, cur = t[k]!;
    for (let i = 0; i < 256; i++) cur[i] = (t0[prev[i]! & 0xff]! ^ (prev[i]! >>> 8)) >>> 0;
  }
  return t;
}

const [T0, T1, T2, T3, T4, T5, T6, T7] = makeTables() as [
  Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array,
];

export function crc32cTable(prev: number, buf: Uint8Array): number {
  let crc = ~prev >>> 0;
  let i = 0;
  const n = buf.length;
  const fast = n - (n % 8);
  while (i < fast) {
    const lo = (crc ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24))) >>> 0;
    crc = T7[lo & 0xff]! ^ T6[(lo >>> 8) & 0xff]! ^ T5[(lo >>> 16) & 0xff]! ^ T4[lo >>> 24]!
        ^ T3[buf[i + 4]!]! ^ T2[buf[i + 5]!]! ^ T1[buf[i + 6]!]! ^ T0[buf[i + 7]!]!;
    i += 8;
  }
  while (i < n) crc = T0[(crc ^ buf[i++]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}
