// Reads one image (docs/image-format.md) record by record and verifies all of
// it — every header and payload crc, the ALIGNED gaps, the record order and
// the END record — before returning a summary. Written from the spec, not
// from the C loader, so the two check each other. Memory use is one read
// window whatever the image size.
import { open, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { crc32c, formatChecksum } from './crc32c.js';
import { FileWindow, ShortRead } from './file-window.js';
import {
  COMPRESSION_MASK, Compression, END_BYTES, FLAG_ALIGNED, HEADER_CRC_BYTES, IMAGE_HEADER_BYTES,
  IMAGE_MAGIC, IMAGE_VERSION, KNOWN_RECORD_FLAGS, PAGE, PAGES_RUN_MAX, RECORD_HEADER_BYTES,
  FILE_IDENT_BYTES, RECORD_MAGIC, REF_FIXED_BYTES, REF_NAME_MAX, REGION_FIXED_BYTES, RecordType, RegionFlag, decodeImageHeader, decodeRecordHeader,
  decodeRegion, hex, protString, regionFlagNames, type ImageHeader, type RecordHeader,
  type RegionRecord,
} from './image-records.js';

export type ImageFault = 'truncated' | 'corrupt' | 'unsupported';

/** A refused image; the message is one line: `<path>: <fault>: <what>`. */
export class ImageError extends Error {
  constructor(readonly path: string, readonly fault: ImageFault, what: string) {
    super(`${path}: ${fault}: ${what}`);
    this.name = 'ImageError';
  }
}

export interface ThreadInfo { tid: number; name: string; main: boolean; checkpoint: boolean }

/** The META record: free-form JSON; these fields are what the writer puts there. */
export interface ImageMeta {
  pid?: number;
  host?: string;
  exe?: string;
  restarts?: number;
  threads?: ThreadInfo[];
  [key: string]: unknown;
}

export interface RegionSummary {
  start: string;
  end: string;
  bytes: number;
  fileOffset: string;
  prot: string;
  flags: string[];
  path: string;
  pages: { records: number; savedBytes: number; storedBytes: number };
  /** MAPFILE: mapped from this file again at restart (its size, the bytes mapped and their XXH3-128); the pages hold only what the process changed. */
  mappedFile?: { size: number; hashedBytes: number; xxh3: string };
}

export interface ImageSummary {
  path: string;
  checksum: string;        // crc32c:xxxxxxxx over all record headers, each without its own crc
  legacyChecksum: string;  // the same over whole headers, as images before 2026-12-03 had it
  records: number;         // excluding END, as END counts them
  header: ImageHeader;
  meta: ImageMeta | null;
  regions: RegionSummary[];
  totals: {
    fileBytes: number;
    mappedBytes: number;     // all regions
    contentsBytes: number;   // regions whose contents are saved
    savedBytes: number;      // raw bytes of PAGES (memory actually saved)
    storedBytes: number;     // PAGES bytes in the file (after compression)
    zeroElidedBytes: number; // contents not stored because they read as zero
    fileMappedBytes: number; // MAPFILE regions: bytes mapped from their file again at restart, not stored
    compressedRecords: number;
    lz4Records: number;      // of compressedRecords, the lz4 ones (the rest zstd)
    refRecords: number;      // REF records (incremental images)
    referencedBytes: number; // memory they restore from the files they name (in savedBytes, not storedBytes)
  };
  referencedFiles: string[]; // the files REF records name, in this directory
}

/** Verifies the image at `path` and summarizes it; throws ImageError if it is refused. */
export async function readImage(path: string): Promise<ImageSummary> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(err.code === 'ENOENT' ? `${path}: no such file` : `${path}: cannot open: ${err.message}`);
  }
  let walk: ImageWalk | null = null;
  try {
    const { size } = await fh.stat();
    walk = new ImageWalk(path, new FileWindow(fh, size));
    return await walk.run();
  } catch (e) {
    if (e instanceof ShortRead) throw new ImageError(path, 'truncated', `the file shrank while being read (${e.message})`);
    throw e;
  } finally {
    await walk?.closeRefs();
    await fh.close();
  }
}

/** One pass over the records, carrying what later records are checked against. */
class ImageWalk {
  private offset = 0;
  private index = 0;
  private headerSum = 0;
  private legacySum = 0;   // images written before 2026-12-03: over whole headers (see imageChecksumMatches)
  private header: ImageHeader | null = null;
  private meta: ImageMeta | null = null;
  private regions: RegionSummary[] = [];
  private current: { rec: RegionRecord; summary: RegionSummary; nextPage: bigint } | null = null;
  private saved = 0n;
  private stored = 0n;
  private compressedRecords = 0;
  private lz4Records = 0;
  private record: RecordHeader | null = null;  // the one being checked, once its header crc passed
  private refRecords = 0;
  private referenced = 0n;
  private refs = new Map<string, { window: FileWindow; fh: FileHandle }>();

  constructor(private readonly path: string, private readonly file: FileWindow) {}

  private refuse(fault: ImageFault, what: string): never {
    throw new ImageError(this.path, fault, what);
  }

  private at(): string {
    const h = this.record;
    const what = !h ? '' : h.type === RecordType.PAGES ? ` (PAGES at ${hex(h.addr)})`
      : ` (${Object.entries(RecordType).find(([, t]) => t === h.type)?.[0] ?? `type ${h.type}`})`;
    return `record ${this.index}${what} at offset ${this.offset}`;
  }

  async run(): Promise<ImageSummary> {
    if (this.file.size === 0) this.refuse('truncated', 'empty file');
    for (;;) {
      if (this.offset === this.file.size) this.refuse('truncated', `no END record after ${this.index} records`);
      this.record = null;
      const { h, payloadAt, next } = await this.readRecordHeader();
      if (this.index === 0 && h.type !== RecordType.HEADER) this.refuse('corrupt', 'not a stasis image (first record is not HEADER)');
      const keep = h.type !== RecordType.PAGES;
      const payload = await this.readPayload(h, payloadAt, keep);
      this.checkFlags(h);
      if (h.type === RecordType.END) {
        this.checkEnd(payload);
        if (next !== this.file.size) this.refuse('corrupt', `${this.file.size - next} bytes of data after the END record`);
        return this.summary();
      }
      if (h.type === RecordType.REF) await this.checkRef(h, payload);
      this.apply(h, payload);
      this.offset = next;
      this.index++;
    }
  }

  /** Reads and checks one 40-byte header; returns where its payload starts and the next record. */
  private async readRecordHeader(): Promise<{ h: RecordHeader; payloadAt: number; next: number }> {
    if (this.offset + RECORD_HEADER_BYTES > this.file.size)
      this.refuse('truncated', `${this.at()}: the file ends inside the record header`);
    const bytes = await this.file.bytes(this.offset, RECORD_HEADER_BYTES);
    const h = decodeRecordHeader(bytes);
    if (h.magic !== RECORD_MAGIC)
      this.refuse('corrupt', this.index === 0 ? 'not a stasis image (bad record magic)' : `${this.at()}: bad record magic`);
    if (crc32c(0, bytes.subarray(0, HEADER_CRC_BYTES)) !== h.headerCrc)
      this.refuse('corrupt', `${this.at()}: header checksum mismatch`);
    this.headerSum = crc32c(this.headerSum, bytes.subarray(0, HEADER_CRC_BYTES));
    this.legacySum = crc32c(this.legacySum, bytes);
    this.record = h;
    if (h.flags & ~KNOWN_RECORD_FLAGS) this.refuse('corrupt', `${this.at()}: unknown flags 0x${h.flags.toString(16)}`);
    let payloadAt = this.offset + RECORD_HEADER_BYTES;
    if (h.flags & FLAG_ALIGNED) payloadAt = Math.ceil(payloadAt / PAGE) * PAGE;
    if (h.stored > BigInt(this.file.size - Math.min(payloadAt, this.file.size)))
      this.refuse('truncated', `${this.at()}: the payload (${h.stored} bytes) ends past the end of the file (${this.file.size} bytes)`);
    return { h, payloadAt, next: payloadAt + Number(h.stored) };
  }

  /**
   * Checks the payload crc and the zero gap before an ALIGNED payload; keeps
   * the payload only when asked (small records), streaming PAGES instead.
   */
  private async readPayload(h: RecordHeader, payloadAt: number, keep: boolean): Promise<Buffer> {
    const gapAt = this.offset + RECORD_HEADER_BYTES;
    if (payloadAt > gapAt) {
      const gap = await this.file.bytes(gapAt, payloadAt - gapAt);
      if (gap.some((b) => b !== 0)) this.refuse('corrupt', `${this.at()}: the alignment gap is not zero`);
    }
    const n = Number(h.stored);
    let crc = 0;
    let kept = Buffer.alloc(0);
    if (keep) {
      // Bounded: only PAGES may be large, and a META of more than 64 MiB is no image of ours.
      if (n > 64 << 20) this.refuse('corrupt', `${this.at()}: a ${n}-byte record of type ${h.type}`);
      kept = Buffer.from(await this.file.bytes(payloadAt, n));
      crc = crc32c(0, kept);
    } else {
      await this.file.scan(payloadAt, n, (chunk) => { crc = crc32c(crc, chunk); });
    }
    if (crc !== h.payloadCrc) this.refuse('corrupt', `${this.at()}: payload checksum mismatch`);
    return kept;
  }

  /** A known type; only PAGES may be compressed or have an address. */
  private checkFlags(h: RecordHeader): void {
    if (!Object.values(RecordType).some((t) => t === h.type)) this.refuse('corrupt', `${this.at()}: unknown record type ${h.type}`);
    if (h.type === RecordType.PAGES) return;
    if (h.type === RecordType.REF) {
      if (h.flags) this.refuse('corrupt', `${this.at()}: flags set on a REF`);
      return;
    }
    if (h.flags & COMPRESSION_MASK) this.refuse('corrupt', `${this.at()}: compressed record of type ${h.type}`);
    if (h.addr !== 0n || h.raw !== h.stored) this.refuse('corrupt', `${this.at()}: addr or raw length set on a record of type ${h.type}`);
  }

  private apply(h: RecordHeader, payload: Buffer): void {
    const compression = h.flags & COMPRESSION_MASK;
    switch (h.type) {
      case RecordType.HEADER: return this.applyHeader(payload);
      case RecordType.META: return this.applyMeta(payload);
      case RecordType.REGION: return this.applyRegion(payload);
      case RecordType.PAGES: return this.applyPages(h, compression);
      case RecordType.REF: return this.applyPages(h, Compression.NONE, true);
      default: this.refuse('corrupt', `${this.at()}: unknown record type ${h.type}`);
    }
  }

  private applyHeader(payload: Buffer): void {
    if (this.index !== 0) this.refuse('corrupt', `${this.at()}: a second HEADER record`);
    if (payload.length !== IMAGE_HEADER_BYTES || payload.toString('latin1', 0, 8) !== IMAGE_MAGIC)
      this.refuse('corrupt', 'not a stasis image (bad HEADER record)');
    this.header = decodeImageHeader(payload);
    if (this.header.version !== IMAGE_VERSION) this.refuse('unsupported', `image version ${this.header.version}`);
    if (this.header.pageSize !== PAGE) this.refuse('unsupported', `page size ${this.header.pageSize}`);
  }

  private applyMeta(payload: Buffer): void {
    if (this.meta) this.refuse('corrupt', `${this.at()}: a second META record`);
    let parsed: unknown;
    try { parsed = JSON.parse(payload.toString('utf8')); } catch (e) {
      this.refuse('corrupt', `${this.at()}: META is not JSON (${(e as Error).message})`);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) this.refuse('corrupt', `${this.at()}: META is not a JSON object`);
    this.meta = parsed as ImageMeta;
  }

  private applyRegion(payload: Buffer): void {
    if (payload.length < REGION_FIXED_BYTES) this.refuse('corrupt', `${this.at()}: malformed region (${payload.length} bytes)`);
    const rec = decodeRegion(payload);
    // MAPFILE: the file's identity follows the path; only with CONTENTS, never shared.
    const mapfile = (rec.flags & RegionFlag.MAPFILE) !== 0;
    const identBytes = mapfile ? FILE_IDENT_BYTES : 0;
    const fileOnly = RegionFlag.CONTENTS | RegionFlag.FILE;
    if (payload.length !== REGION_FIXED_BYTES + rec.pathLength + identBytes || rec.end <= rec.start ||
        (mapfile && (rec.flags & (fileOnly | RegionFlag.SHARED | RegionFlag.OBJECT)) !== fileOnly))
      this.refuse('corrupt', `${this.at()}: malformed region`);
    const identAt = REGION_FIXED_BYTES + rec.pathLength;
    const summary: RegionSummary = {
      start: hex(rec.start),
      end: hex(rec.end),
      bytes: Number(rec.end - rec.start),
      fileOffset: hex(rec.fileOffset),
      prot: protString(rec.prot),
      flags: regionFlagNames(rec.flags),
      path: payload.toString('utf8', REGION_FIXED_BYTES, identAt),
      pages: { records: 0, savedBytes: 0, storedBytes: 0 },
    };
    if (mapfile) {
      summary.mappedFile = {
        size: Number(payload.readBigUInt64LE(identAt)),
        hashedBytes: Number(payload.readBigUInt64LE(identAt + 40)),
        xxh3: payload.readBigUInt64LE(identAt + 56).toString(16).padStart(16, '0') + payload.readBigUInt64LE(identAt + 48).toString(16).padStart(16, '0'),
      };
    }
    this.regions.push(summary);
    this.current = { rec, summary, nextPage: rec.start };
  }

  /** A REF's file (opened once, in this image's directory), or a refusal. */
  private async refFile(name: string): Promise<FileWindow> {
    const known = this.refs.get(name);
    if (known) return known.window;
    let fh: FileHandle;
    try { fh = await open(join(dirname(this.path), name), 'r'); } catch (e) {
      this.refuse('corrupt', `${this.at()}: refers to ${name}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const window = new FileWindow(fh, (await fh.stat()).size);
    this.refs.set(name, { window, fh });
    return window;
  }

  async closeRefs(): Promise<void> {
    for (const r of this.refs.values()) await r.fh.close();
    this.refs.clear();
  }

  /** The PAGES record a REF names: its header crc as the REF says, its pages, its payload crc. */
  private async checkRef(h: RecordHeader, payload: Buffer): Promise<void> {
    if (payload.length < REF_FIXED_BYTES || payload.length !== REF_FIXED_BYTES + payload.readUInt32LE(12))
      this.refuse('corrupt', `${this.at()}: malformed REF`);
    const offset = Number(payload.readBigUInt64LE(0));
    const headerCrc = payload.readUInt32LE(8);
    const name = payload.toString('latin1', REF_FIXED_BYTES);
    if (!name || name.length > REF_NAME_MAX || name.includes('/') || name.includes('\0'))
      this.refuse('corrupt', `${this.at()}: REF names no file of this directory`);
    const f = await this.refFile(name);
    const where = `${this.at()}: refers to ${name} at offset ${offset}`;
    if (offset + RECORD_HEADER_BYTES > f.size) this.refuse('corrupt', `${where}: past its end`);
    const bytes = await f.bytes(offset, RECORD_HEADER_BYTES);
    const t = decodeRecordHeader(bytes);
    if (t.magic !== RECORD_MAGIC || crc32c(0, bytes.subarray(0, HEADER_CRC_BYTES)) !== t.headerCrc || t.headerCrc !== headerCrc)
      this.refuse('corrupt', `${where}: not the record it names`);
    let at = offset + RECORD_HEADER_BYTES;
    if (t.flags & FLAG_ALIGNED) at = Math.ceil(at / PAGE) * PAGE;
    if (t.type !== RecordType.PAGES || t.raw !== h.raw || (t.flags & ~KNOWN_RECORD_FLAGS) || (t.flags & COMPRESSION_MASK) > Compression.LZ4
        || at + Number(t.stored) > f.size)
      this.refuse('corrupt', `${where}: a record that does not hold these pages`);
    let crc = 0;
    await f.scan(at, Number(t.stored), (chunk) => { crc = crc32c(crc, chunk); });
    if (crc !== t.payloadCrc) this.refuse('corrupt', `${where}: payload checksum mismatch`);
  }

  private applyPages(h: RecordHeader, compression: number, ref = false): void {
    const r = this.current;
    if (!r) this.refuse('corrupt', `${this.at()}: PAGES before any REGION`);
    if (!(r.rec.flags & RegionFlag.CONTENTS)) this.refuse('corrupt', `${this.at()}: PAGES for a region without CONTENTS`);
    if (compression !== Compression.NONE && compression !== Compression.ZSTD && compression !== Compression.LZ4)
      this.refuse('corrupt', `${this.at()}: unknown compression ${compression}`);
    const page = BigInt(PAGE);
    if (h.raw === 0n || h.raw % page !== 0n || h.raw > BigInt(PAGES_RUN_MAX) || h.addr % page !== 0n)
      this.refuse('corrupt', `${this.at()}: PAGES of ${h.raw} bytes at ${hex(h.addr)} are not whole pages of at most 8 MiB`);
    if (h.addr < r.nextPage || h.addr + h.raw > r.rec.end)
      this.refuse('corrupt', `${this.at()}: PAGES at ${hex(h.addr)} outside their region or overlapping earlier pages`);
    if (!ref && compression === Compression.NONE && (h.stored !== h.raw || !(h.flags & FLAG_ALIGNED)))
      this.refuse('corrupt', `${this.at()}: uncompressed PAGES must be ALIGNED with stored length = raw length`);
    r.nextPage = h.addr + h.raw;
    if (ref) {
      this.refRecords++;
      this.referenced += h.raw;
      this.saved += h.raw;
      r.summary.pages.savedBytes += Number(h.raw);
      return;
    }
    r.summary.pages.records++;
    r.summary.pages.savedBytes += Number(h.raw);
    r.summary.pages.storedBytes += Number(h.stored);
    this.saved += h.raw;
    this.stored += h.stored;
    if (compression !== Compression.NONE) this.compressedRecords++;
    if (compression === Compression.LZ4) this.lz4Records++;
  }

  private checkEnd(payload: Buffer): void {
    if (payload.length !== END_BYTES) this.refuse('corrupt', `${this.at()}: END record of ${payload.length} bytes`);
    const records = payload.readBigUInt64LE(0);
    const memory = payload.readBigUInt64LE(8);
    if (records !== BigInt(this.index))
      this.refuse('corrupt', `END counts ${records} records but ${this.index} were read`);
    if (memory !== this.saved)
      this.refuse('corrupt', `END counts ${memory} memory bytes but the PAGES hold ${this.saved}`);
  }

  private summary(): ImageSummary {
    // index 0 is always the HEADER (checked in run), so the header is set.
    const header = this.header as ImageHeader;
    const mapped = this.regions.reduce((s, r) => s + r.bytes, 0);
    const contents = this.regions.filter((r) => r.flags.includes('CONTENTS')).reduce((s, r) => s + r.bytes, 0);
    const fromFiles = this.regions.reduce((s, r) => s + (r.mappedFile?.hashedBytes ?? 0), 0);
    const saved = Number(this.saved);
    return {
      path: this.path,
      checksum: formatChecksum(this.headerSum),
      legacyChecksum: formatChecksum(this.legacySum),
      records: this.index,
      header,
      meta: this.meta,
      regions: this.regions,
      totals: {
        fileBytes: this.file.size,
        mappedBytes: mapped,
        contentsBytes: contents,
        savedBytes: saved,
        storedBytes: Number(this.stored),
        zeroElidedBytes: Math.max(0, contents - fromFiles - saved),
        fileMappedBytes: fromFiles,
        compressedRecords: this.compressedRecords,
        lz4Records: this.lz4Records,
        refRecords: this.refRecords,
        referencedBytes: Number(this.referenced),
      },
      referencedFiles: [...this.refs.keys()],
    };
  }
}

