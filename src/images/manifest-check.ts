// What restart checks against the manifest before the loader runs, so that
// `stasis restart` refuses what `stasis inspect` refuses: each image's size
// and checksum (over its record headers) and each side file's size and
// trailer must be the manifest's. The loader then verifies every byte
// against those headers and trailers (native/restart/verify.c, side.c).
// Only headers are read: a few hundred small reads, not the memory.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c, formatChecksum } from './crc32c.js';
import type { Manifest } from './manifest.js';
import { decodeRecordHeader, FLAG_ALIGNED, imageChecksumMatches, HEADER_CRC_BYTES, PAGE, RECORD_HEADER_BYTES, RECORD_MAGIC, RecordType } from './image-records.js';

const TRAILER_BYTES = 20;   // "end crc32c:xxxxxxxx\n"

function withFile<T>(path: string, f: (fd: number, size: number) => T): T {
  let fd: number;
  try { fd = openSync(path, 'r'); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${path}: ${code === 'ENOENT' ? 'missing, though the manifest lists it' : code}`);
  }
  try { return f(fd, fstatSync(fd).size); } finally { closeSync(fd); }
}

/**
 * The image checksum (crc32c of every record header) and where the END
 * record's payload ends, or null when a header is damaged or cut short: the
 * loader then refuses the image, saying which record.
 */
function headerChecksum(fd: number, size: number): { checksum: string; legacyChecksum: string; end: number } | null {
  const h = Buffer.alloc(RECORD_HEADER_BYTES);
  let sum = 0, legacy = 0;
  for (let off = 0; off + RECORD_HEADER_BYTES <= size;) {
    if (readSync(fd, h, 0, RECORD_HEADER_BYTES, off) !== RECORD_HEADER_BYTES) return null;
    const r = decodeRecordHeader(h);
    if (r.magic !== RECORD_MAGIC || crc32c(0, h.subarray(0, HEADER_CRC_BYTES)) !== r.headerCrc) return null;
    sum = crc32c(sum, h.subarray(0, HEADER_CRC_BYTES));
    legacy = crc32c(legacy, h);
    let payloadAt = off + RECORD_HEADER_BYTES;
    if (r.flags & FLAG_ALIGNED) payloadAt = Math.ceil(payloadAt / PAGE) * PAGE;
    off = payloadAt + Number(r.stored);
    if (r.type === RecordType.END) return { checksum: formatChecksum(sum), legacyChecksum: formatChecksum(legacy), end: off };
  }
  return null;
}

/** Throws one line, in inspect's words, at the first file that differs from the manifest. */
export function checkAgainstManifest(dir: string, manifest: Manifest): void {
  for (const p of manifest.processes) {
    const image = join(dir, p.image);
    withFile(image, (fd, size) => {
      // In inspect's order (reader.ts, then inspect.ts), so that both say the same.
      const walked = headerChecksum(fd, size);
      if (walked === null) return;
      if (walked.end < size) throw new Error(`${image}: corrupt: ${size - walked.end} bytes of data after the END record`);
      if (size !== p.bytes) throw new Error(`${image}: corrupt: ${size} bytes but the manifest says ${p.bytes}`);
      if (!imageChecksumMatches(walked, p.checksum)) throw new Error(`${image}: corrupt: checksum ${walked.checksum} but the manifest says ${p.checksum}`);
    });
    for (const f of p.refs ?? []) {
      const ref = join(dir, f.name);
      withFile(ref, (fd, size) => {
        const walked = headerChecksum(fd, size);
        if (size !== f.bytes) throw new Error(`${ref}: corrupt: ${size} bytes but the manifest says ${f.bytes}`);
        if (!walked || !imageChecksumMatches(walked, f.checksum))
          throw new Error(`${ref}: corrupt: checksum ${walked?.checksum ?? 'unreadable'} but the manifest says ${f.checksum}`);
      });
    }
    for (const f of p.files ?? []) {
      const side = join(dir, f.name);
      withFile(side, (fd, size) => {
        if (size !== f.bytes) throw new Error(`${side}: corrupt: ${size} bytes but the manifest says ${f.bytes}`);
        const trailer = Buffer.alloc(TRAILER_BYTES);
        const n = size >= TRAILER_BYTES ? readSync(fd, trailer, 0, TRAILER_BYTES, size - TRAILER_BYTES) : 0;
        const written = trailer.subarray(0, n).toString('latin1');
        if (written !== `end ${f.checksum}\n`)
          throw new Error(`${side}: corrupt: checksum ${written.slice(4).trim() || 'missing'} but the manifest says ${f.checksum}`);
      });
    }
  }
}
