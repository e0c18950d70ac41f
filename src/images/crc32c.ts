// CRC-32C (Castagnoli, docs/image-format.md): crc32c(prev, buf) continues a
// finished checksum exactly like native/core/crc32c.c, so a file can be
// checksummed chunk by chunk. Uses @node-rs/crc32 (SSE4.2 / ARM CRC, several
// GB/s — images are hundreds of MiB) and falls back to a table in TypeScript
// where that package ships no binary for the platform.
import { createRequire } from 'node:module';
import { crc32cTable } from './crc32c-table.js';

type Crc = (input: Uint8Array, initial?: number) => number;

function loadNative(): Crc | null {
  try {
    const mod = createRequire(import.meta.url)('@node-rs/crc32') as { crc32c: Crc };
    return mod.crc32c;
  } catch {
    return null;
  }
}

const native = loadNative();

/** Which implementation is in use ("native" or "table"), for diagnostics. */
export const crc32cImplementation: 'native' | 'table' = native ? 'native' : 'table';

/** crc32c of `buf`, continuing from `prev` (0 to start). Unsigned 32-bit. */
export function crc32c(prev: number, buf: Uint8Array): number {
  if (native) return native(buf, prev) >>> 0;
  return crc32cTable(prev, buf);
}

/** `crc32c:0a1b2c3d`, the spelling used in manifests. */
export function formatChecksum(crc: number): string {
  return `crc32c:${(crc >>> 0).toString(16).padStart(8, '0')}`;
}
