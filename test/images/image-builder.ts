// Builds images byte by byte from docs/image-format.md (not from the C
// writer), so reader tests do not depend on a native build.
import { crc32c, formatChecksum } from '../../src/images/crc32c.js';

export const PAGE = 4096;
export const T = { HEADER: 1, META: 2, REGION: 3, PAGES: 4, END: 5 } as const;
export const ALIGNED = 0x10;
export const ZSTD = 1;

export interface Rec {
  type: number;
  payload: Buffer;
  flags?: number;
  addr?: bigint;
  raw?: bigint;          // defaults to the payload length
}

/** A 40-byte record header with both crcs. */
export function recordHeader(r: Rec, payloadCrc = crc32c(0, r.payload)): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt32LE(0x43455253, 0);
  h.writeUInt16LE(r.type, 4);
  h.writeUInt16LE(r.flags ?? 0, 6);
  h.writeBigUInt64LE(r.addr ?? 0n, 8);
  h.writeBigUInt64LE(BigInt(r.payload.length), 16);
  h.writeBigUInt64LE(r.raw ?? BigInt(r.payload.length), 24);
  h.writeUInt32LE(payloadCrc, 32);
  h.writeUInt32LE(crc32c(0, h.subarray(0, 36)), 36);
  return h;
}

/** Lays records out as the spec says: ALIGNED payloads start on a page boundary. */
export function assemble(recs: Rec[]): { image: Buffer; checksum: string; legacyChecksum: string; offsets: number[] } {
  const parts: Buffer[] = [];
  const offsets: number[] = [];
  let off = 0, sum = 0, legacy = 0;
  for (const r of recs) {
    const h = recordHeader(r);
    legacy = crc32c(legacy, h);   // images before 2026-12-03
    sum = crc32c(sum, h.subarray(0, 36));   // each header without its own crc (docs/image-format.md)
    offsets.push(off);
    parts.push(h);
    off += 40;
    if ((r.flags ?? 0) & ALIGNED) {
      const pad = (PAGE - (off % PAGE)) % PAGE;
      parts.push(Buffer.alloc(pad));
      off += pad;
    }
    parts.push(r.payload);
    off += r.payload.length;
  }
  return { image: Buffer.concat(parts), checksum: formatChecksum(sum), legacyChecksum: formatChecksum(legacy), offsets };
}

export function headerPayload(pid = 4242): Buffer {
  const b = Buffer.alloc(200);   // magic, version, page_size, 23 u64 fields
  b.write('STASIS01', 0, 'latin1');
  b.writeUInt32LE(1, 8);
  b.writeUInt32LE(PAGE, 12);
  b.writeBigUInt64LE(BigInt(pid), 16);
  b.writeBigUInt64LE(1_790_000_000_000_000_000n, 24);   // created_ns
  b.writeBigUInt64LE(0x7f0000001000n, 32);              // restart_entry
  return b;
}

export function regionPayload(start: bigint, end: bigint, prot: number, flags: number, path: string): Buffer {
  const p = Buffer.from(path);
  const b = Buffer.alloc(40 + p.length);
  b.writeBigUInt64LE(start, 0);
  b.writeBigUInt64LE(end, 8);
  b.writeBigUInt64LE(0n, 16);
  b.writeUInt32LE(prot, 24);
  b.writeUInt32LE(flags, 28);
  b.writeUInt32LE(p.length, 32);
  p.copy(b, 40);
  return b;
}

export function endPayload(records: number, memoryBytes: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(BigInt(records), 0);
  b.writeBigUInt64LE(BigInt(memoryBytes), 8);
  return b;
}

export const meta = {
  pid: 4242, restarts: 0, regions: 2, host: 'vm', exe: '/opt/bin/counter',
  threads: [
    { tid: 4242, name: 'counter', main: true, checkpoint: false },
    { tid: 4243, name: 'stasis-ckpt', main: false, checkpoint: true },
  ],
};

/**
 * HEADER, META, a heap region with one aligned page and one zstd-flagged run
 * (the reader checks but does not decompress), a file region without
 * contents, END.
 */
export function sampleRecords(): Rec[] {
  const page = Buffer.alloc(PAGE, 0xab);
  const fakeZstd = Buffer.from('zstd frame bytes: the reader only checks their crc');
  const recs: Rec[] = [
    { type: T.HEADER, payload: headerPayload() },
    { type: T.META, payload: Buffer.from(JSON.stringify(meta)) },
    { type: T.REGION, payload: regionPayload(0x400000n, 0x404000n, 3, 4 | 16, '[heap]') },
    { type: T.PAGES, flags: ALIGNED, addr: 0x401000n, payload: page },
    { type: T.PAGES, flags: ZSTD, addr: 0x402000n, raw: 2n * BigInt(PAGE), payload: fakeZstd },
    { type: T.REGION, payload: regionPayload(0x7f0000000000n, 0x7f0000002000n, 5, 2, '/usr/lib/libc.so.6') },
  ];
  recs.push({ type: T.END, payload: endPayload(recs.length, 3 * PAGE) });
  return recs;
}
