// Line framing and argument encoding of the coordinator protocol
// (docs/protocol.md): one ASCII line per message, percent-encoded arguments.
import type { Socket } from 'node:net';

export const PROTOCOL_VERSION = 1;
/** The longest line either side sends or reads, its newline included. */
export const MAX_LINE = 64 * 1024;

const SAFE = /[A-Za-z0-9\-._~/:,=+@]/;

/** Percent-encodes every byte outside the protocol's safe set. */
export function encodeArg(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += byte < 128 && SAFE.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function decodeArg(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(s.charCodeAt(i) & 0xff);
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Splits a socket's bytes into lines; calls `onLine` for each, `onEnd` once. */
export function readLines(sock: Socket, onLine: (line: string) => void, onEnd: (why: string) => void): void {
  let partial = '';
  let ended = false;
  const end = (why: string) => { if (!ended) { ended = true; onEnd(why); } };
  sock.setEncoding('latin1');
  sock.on('data', (chunk: string) => {
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      if (!ended) onLine(line);
    }
    if (partial.length > MAX_LINE) { end('line too long'); sock.destroy(); }
  });
  sock.on('error', (e) => end(e.message));
  sock.on('close', () => end('connection closed'));
}

export function sendLine(sock: Socket, line: string): void {
  if (!sock.destroyed) sock.write(`${line}\n`);
}

/**
 * `VERB a,b,c,...` as few lines as it takes to keep each within MAX_LINE
 * (a list too long for one line, like the job's pid table, is split; the
 * receiver adds up the lines).
 */
export function listLines(verb: string, items: string[]): string[] {
  const lines: string[] = [];
  let line = '';
  for (const item of items) {
    if (`${verb} ${item}`.length + 1 > MAX_LINE) throw new Error(`${verb}: item too long for a line: ${item.slice(0, 40)}...`);
    if (line && line.length + 1 + item.length + 1 > MAX_LINE) { lines.push(line); line = ''; }
    line = line ? `${line},${item}` : `${verb} ${item}`;
  }
  if (line) lines.push(line);
  return lines;
}

/**
 * `VERB <text>` where text may outgrow a line (STATUS of a job of ~450
 * processes and more): `VERB+ <piece>` lines, then `VERB <last piece>`; the
 * receiver joins the pieces. Pieces end between percent-escapes, never
 * inside one.
 */
export function pieceLines(verb: string, encoded: string): string[] {
  const room = MAX_LINE - verb.length - 3;   // "VERB+ " ... "\n"
  const lines: string[] = [];
  let at = 0;
  while (encoded.length - at > room) {
    let end = at + room;
    if (encoded[end - 1] === '%') end -= 1;
    else if (encoded[end - 2] === '%') end -= 2;
    lines.push(`${verb}+ ${encoded.slice(at, end)}`);
    at = end;
  }
  lines.push(`${verb} ${encoded.slice(at)}`);
  return lines;
}

/**
 * An answer or request whose list may be longer than a line
 * (docs/protocol.md): `VERB+ a,b,...` lines, then `VERB` with the rest
 * (or alone). The receiver joins them into one `VERB a,b,...`.
 */
export function continuedLines(verb: string, items: string[]): string[] {
  const lines = listLines(`${verb}+`, items);
  const last = lines.pop();
  return [...lines, last ? `${verb}${last.slice(verb.length + 1)}` : verb];
}

/** Joins `VERB+ ...` lines (`continued`, their lists) and the final `VERB ...` line into one. */
export function joinContinued(verb: string, continued: string[], final: string): string {
  if (!continued.length || (final !== verb && !final.startsWith(`${verb} `))) return final;
  const rest = final.slice(verb.length + 1);
  return `${verb} ${[...continued, rest].filter((l) => l).join(',')}`;
}
