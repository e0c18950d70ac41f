// A command connection to the coordinator (`stasis command`, tests).
import { connect, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { decodeArg, encodeArg, PROTOCOL_VERSION, readLines, sendLine } from './protocol.js';
import { hostname } from 'node:os';
import { formatAddress, liveCoordinator, parseAddress, publishedProblem, readPublished, readToken, TOKEN_FILE, type CoordAddress } from './publish.js';

export interface Target { address: CoordAddress; token: string; ckptDir: string | null }

/** Where the coordinator is: --coord/STASIS_COORD with a token, or the ckpt dir's files. */
export function locate(opts: { coord?: string; ckptDir?: string; tokenFile?: string }, env = process.env): Target {
  const coord = opts.coord ?? env.STASIS_COORD;
  if (coord && !opts.ckptDir) {
    const token = opts.tokenFile ? readToken(opts.tokenFile) : env.STASIS_TOKEN;
    if (!token) throw new Error('--coord needs the job token: set STASIS_TOKEN or give --token-file');
    return { address: parseAddress(coord), token, ckptDir: null };
  }
  const dir = resolve(opts.ckptDir ?? (env.STASIS_CKPT_DIR || 'stasis-ckpt'));
  const live = liveCoordinator(dir);
  if (!live) {
    const stale = readPublished(dir);
    const problem = publishedProblem(dir);
    const elsewhere = stale?.node && stale.node !== hostname();
    throw new Error(stale ? `no coordinator is running for ${dir} (${elsewhere ? `${formatAddress(stale)} on ${stale.node} does not answer` : `pid ${stale.pid} in coordinator.json is gone`})`
      : problem ? `cannot find the coordinator for ${dir}: ${problem}`
        : `no coordinator is running for ${dir} (no coordinator.json there)`);
  }
  return { address: live, token: readToken(opts.tokenFile ?? join(dir, TOKEN_FILE)), ckptDir: dir };
}

export class CommandClient {
  private lines: string[] = [];
  private waiters: Array<(l: string | null) => void> = [];
  private ended: string | null = null;
  ckptDir = '';

  private constructor(private sock: Socket) {
    readLines(sock, (l) => this.push(l), (why) => { this.ended = why; this.flush(); });
  }

  private push(line: string) {
    const w = this.waiters.shift();
    if (w) w(line); else this.lines.push(line);
  }

  private flush() {
    for (const w of this.waiters.splice(0)) w(null);
  }

  private next(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.ended) return Promise.reject(new Error(`the coordinator closed the connection (${this.ended})`));
    return new Promise((res, rej) => this.waiters.push((x) => (x === null ? rej(new Error(`the coordinator closed the connection (${this.ended})`)) : res(x))));
  }

  static async open(t: Target): Promise<CommandClient> {
    const where = `${t.address.host}:${t.address.port}`;
    const sock = await new Promise<Socket>((res, rej) => {
      const s = connect(t.address.port, t.address.host, () => res(s));
      s.once('error', (e: NodeJS.ErrnoException) => rej(new Error(`cannot reach the coordinator at ${where}: ${e.code ?? e.message}`)));
    });
    const c = new CommandClient(sock);
    sendLine(sock, `HELLO ${PROTOCOL_VERSION} ${t.token} cmd`);
    const w = await c.next();
    if (!w.startsWith('WELCOME ')) throw new Error(`the coordinator at ${where} refused us: ${decodeArg(w.split(' ').slice(1).join(' '))}`);
    c.ckptDir = decodeArg(w.split(' ')[2] ?? '');
    return c;
  }

  /** Sends one command and returns its one-line reply; ERROR becomes an exception. */
  async request(verb: string, ...args: string[]): Promise<string[]> {
    sendLine(this.sock, [verb, ...args.map(encodeArg)].join(' '));
    let reply = await this.next();
    // A reply too long for one line comes in pieces (protocol.ts pieceLines).
    for (let piece = /^([A-Z_]+)\+ /.exec(reply); piece; piece = /^([A-Z_]+)\+ /.exec(reply)) {
      const next = await this.next();
      if (!next.startsWith(`${piece[1]}+ `) && !next.startsWith(`${piece[1]} `)) throw new Error(`the coordinator broke off its ${piece[1]} answer`);
      reply = `${next.startsWith(`${piece[1]}+ `) ? `${piece[1]}+ ` : `${piece[1]} `}${reply.slice(piece[0].length)}${next.slice(next.indexOf(' ') + 1)}`;
    }
    const words = reply.split(' ');
    if (words[0] === 'ERROR') throw new Error(decodeArg(words.slice(1).join(' ')));
    return words;
  }

  close(): void { this.sock.end(); }
}
