// Sequential reads of a large file through one reusable buffer, so an image
// of several GiB is verified with a few MiB of memory and one read(2) per
// window rather than one per record.
import type { FileHandle } from 'node:fs/promises';

const WINDOW = 8 << 20; // one PAGES run (8 MiB raw) fits in a single read

/** The file ended before the bytes asked for (it shrank while being read). */
export class ShortRead extends Error {}

export class FileWindow {
  private buf = Buffer.allocUnsafe(WINDOW);
  private start = 0;   // file offset of buf[0]
  private length = 0;  // valid bytes in buf

  constructor(private readonly fh: FileHandle, readonly size: number) {}

  /**
   * Bytes [offset, offset+n) of the file. The view is only valid until the
   * next call; copy what you keep. The caller checks the range is inside
   * the file.
   */
  async bytes(offset: number, n: number): Promise<Buffer> {
    if (offset >= this.start && offset + n <= this.start + this.length)
      return this.buf.subarray(offset - this.start, offset - this.start + n);
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n);
    const want = Math.min(this.buf.length, this.size - offset);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await this.fh.read(this.buf, got, want - got, offset + got);
      if (bytesRead === 0) break; // the file shrank under us; the caller sees short data
      got += bytesRead;
    }
    this.start = offset;
    this.length = got;
    if (got < n) throw new ShortRead(`file ended at offset ${offset + got} while reading ${n} bytes at ${offset}`);
    return this.buf.subarray(0, n);
  }

  /** Feeds [offset, offset+n) to `consume` in slices, reading each byte once. */
  async scan(offset: number, n: number, consume: (chunk: Buffer) => void): Promise<void> {
    while (n > 0) {
      const inWindow = offset >= this.start && offset < this.start + this.length;
      const step = inWindow ? Math.min(n, this.start + this.length - offset) : Math.min(n, this.buf.length);
      consume(await this.bytes(offset, step));
      offset += step;
      n -= step;
    }
  }
}
