// Whether libstasis can be preloaded into a program: `stasis launch` of one
// it cannot reach (no dynamic loader to preload into) refuses at once, as
// the program would run but never join, and so never be checkpointed.
import { accessSync, constants, closeSync, openSync, readSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The file exec would run for `name`: searched through PATH unless it has a slash. */
export function resolveProgram(name: string, path = process.env.PATH ?? '/bin:/usr/bin'): string | null {
  const runnable = (f: string) => {
    try { return statSync(f).isFile() && (accessSync(f, constants.X_OK), true); } catch { return false; }
  };
  if (name.includes('/')) return runnable(name) ? name : null;
  for (const dir of path.split(delimiter)) {
    const f = join(dir || '.', name);
    if (runnable(f)) return f;
  }
  return null;
}

function head(file: string, bytes: number, at = 0): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    return buf.subarray(0, readSync(fd, buf, 0, bytes, at));
  } finally { closeSync(fd); }
}

const PT_INTERP = 3;

/** Why libstasis cannot be preloaded into `file` (following #! interpreters), or null. */
export function unreachable(file: string, depth = 0): string | null {
  let h: Buffer;
  try { h = head(file, 256); } catch { return null; }   // exec will say why
  if (h.subarray(0, 2).toString('latin1') === '#!' && depth < 4) {
    const interp = h.toString('latin1', 2).split('\n')[0]!.trim().split(/[ \t]/)[0];
    return interp ? unreachable(interp, depth + 1) : null;
  }
  if (h.length < 64 || h.readUInt32BE(0) !== 0x7f454c46) return null;   // not ELF: exec decides
  if (h[4] !== 2) return `${file} is a 32-bit program: libstasis (64-bit) cannot be preloaded into it`;
  const le = h[5] === 1;
  const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const phoff = Number(le ? h.readBigUInt64LE(32) : h.readBigUInt64BE(32));
  const phentsize = u16(h, 54), phnum = u16(h, 56);
  const ph = head(file, phentsize * phnum, phoff);
  for (let i = 0; i + 4 <= ph.length && i < phnum * phentsize; i += phentsize)
    if (u32(ph, i) === PT_INTERP) return null;
  return `${file} is statically linked: libstasis cannot be preloaded into it, so it would run but never be checkpointed`;
}
