// The record layouts of docs/image-format.md as constants and decoders of
// single payloads. No I/O and no verification of the record sequence: that
// is reader.ts.

export const RECORD_MAGIC = 0x43455253;  // "SREC" in file order
export const RECORD_HEADER_BYTES = 40;
export const HEADER_CRC_BYTES = 36;      // the header crc covers bytes 0–35
export const IMAGE_MAGIC = 'STASIS01';
export const IMAGE_VERSION = 1;
export const PAGE = 4096;
export const PAGES_RUN_MAX = 8 << 20;

export const RecordType = { HEADER: 1, META: 2, REGION: 3, PAGES: 4, END: 5, REF: 6 } as const;
/** REF payload: offset u64, header crc u32, name length u32, then the name. */
export const REF_FIXED_BYTES = 16;
export const REF_NAME_MAX = 256;
export const COMPRESSION_MASK = 0x0f;
export const Compression = { NONE: 0, ZSTD: 1, LZ4: 2 } as const;
export const FLAG_ALIGNED = 0x10;
export const KNOWN_RECORD_FLAGS = COMPRESSION_MASK | FLAG_ALIGNED;

export const RegionFlag = { SHARED: 1, FILE: 2, CONTENTS: 4, STACK: 8, HEAP: 16, DELETED: 32, OBJECT: 64, MAPFILE: 128 } as const;
/** After the path of a MAPFILE region: size, mtime, ctime, dev, ino, hashed bytes, XXH3-128 (struct file_ident). */
export const FILE_IDENT_BYTES = 64;

export const REGION_FIXED_BYTES = 3 * 8 + 4 * 4;
export const END_BYTES = 16;

export interface RecordHeader {
  magic: number;
  type: number;
  flags: number;
  addr: bigint;
  stored: bigint;
  raw: bigint;
  payloadCrc: number;
  headerCrc: number;
}

export function decodeRecordHeader(b: Buffer): RecordHeader {
  return {
    magic: b.readUInt32LE(0),
    type: b.readUInt16LE(4),
    flags: b.readUInt16LE(6),
    addr: b.readBigUInt64LE(8),
    stored: b.readBigUInt64LE(16),
    raw: b.readBigUInt64LE(24),
    payloadCrc: b.readUInt32LE(32),
    headerCrc: b.readUInt32LE(36),
  };
}

/** Addresses are shown as hex strings: they may exceed 2^53 and JSON has no u64. */
export const hex = (v: bigint): string => `0x${v.toString(16)}`;

// u64 fields of the HEADER payload after magic, version and page_size, in order.
const HEADER_U64_FIELDS = [
  'pid', 'createdNs', 'restartEntry', 'restartInfo', 'restartStack', 'mainFs',
  'vvarStart', 'vvarEnd', 'vclockStart', 'vclockEnd', 'vdsoStart', 'vdsoEnd',
  'startCode', 'endCode', 'startData', 'endData', 'startBrk', 'brk',
  'startStack', 'argStart', 'argEnd', 'envStart', 'envEnd',
] as const;
/** magic[8], version u32, page_size u32, then the u64 fields: 200 bytes. */
export const IMAGE_HEADER_BYTES = 8 + 4 + 4 + 8 * HEADER_U64_FIELDS.length;
type HeaderAddressField = Exclude<(typeof HEADER_U64_FIELDS)[number], 'pid' | 'createdNs'>;

export type ImageHeader = {
  magic: string;
  version: number;
  pageSize: number;
  pid: number;
  createdAt: string;  // ISO time from created_ns
  createdNs: string;  // exact, as a decimal string
} & Record<HeaderAddressField, string>;

export function decodeImageHeader(b: Buffer): ImageHeader {
  const u64 = new Map<string, bigint>();
  HEADER_U64_FIELDS.forEach((name, i) => u64.set(name, b.readBigUInt64LE(16 + 8 * i)));
  const createdNs = u64.get('createdNs') ?? 0n;
  const out: Record<string, string | number> = {
    magic: b.toString('latin1', 0, 8),
    version: b.readUInt32LE(8),
    pageSize: b.readUInt32LE(12),
    pid: Number(u64.get('pid')),
    createdAt: new Date(Number(createdNs / 1_000_000n)).toISOString(),
    createdNs: createdNs.toString(),
  };
  for (const [name, v] of u64) if (name !== 'pid' && name !== 'createdNs') out[name] = hex(v);
  return out as ImageHeader;
}

export interface RegionRecord {
  start: bigint;
  end: bigint;
  fileOffset: bigint;
  prot: number;
  flags: number;
  pathLength: number;
}

export function decodeRegion(b: Buffer): RegionRecord {
  return {
    start: b.readBigUInt64LE(0),
    end: b.readBigUInt64LE(8),
    fileOffset: b.readBigUInt64LE(16),
    prot: b.readUInt32LE(24),
    flags: b.readUInt32LE(28),
    pathLength: b.readUInt32LE(32),
  };
}

/** "rw-", "r-x", "---" from PROT_READ|PROT_WRITE|PROT_EXEC. */
export function protString(prot: number): string {
  return `${prot & 1 ? 'r' : '-'}${prot & 2 ? 'w' : '-'}${prot & 4 ? 'x' : '-'}`;
}

/** ["FILE", "CONTENTS"]; bits the spec does not name appear as "bitN". */
export function regionFlagNames(flags: number): string[] {
  const names: string[] = [];
  for (let bit = 0; bit < 32; bit++) {
    const v = 2 ** bit;
    if (!(flags & v)) continue;
    const known = Object.entries(RegionFlag).find(([, f]) => f === v);
    names.push(known ? known[0] : `bit${bit}`);
  }
  return names;
}

/**
 * Whether an image's checksums match the manifest's. Before 2026-12-03 the
 * writer ran its crc over whole headers, each ending with its own crc: that
 * always ends in one number per record count, so it told nothing. Such
 * images (their manifests say the legacy sum) are still accepted; their
 * records' own checksums still cover every byte.
 */
export function imageChecksumMatches(s: { checksum: string; legacyChecksum: string }, manifest: string): boolean {
  return s.checksum === manifest || s.legacyChecksum === manifest;
}
