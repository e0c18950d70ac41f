/**
 * The command lines of ssh and rsh, parsed as they parse them, to find
 * where the remote command runs and what it is (the exec-time rewrite,
 * native/plugins/ssh/argv.c, parses the same grammar; test/ssh/ holds the
 * table both must agree on).
 *
 * OpenSSH (ssh.c, 10.x): BSD getopt without permutation over the flags
 * "1246ACGKMNTVXYZafgknqstvxy" and the options with a value
 * "BDEFIJLOPQRSWbceilmopw" (attached, -p22, or the next word); parsing
 * stops at the first word that is not an option ("-" is not one) or after
 * "--". That word is the destination, `[user@]host` (the user before the
 * last '@') or `ssh://[user[;params]@]host[:port][/]`; when more words
 * follow and no "--" came before it, the options after it are parsed the
 * same way. What is left is the command, its words joined by spaces for
 * the remote shell. The first -l (or user@) and the first -p (or URI
 * port) win.
 *
 * rsh (Debian's rsh-redone): getopt "l:p:46v" without permutation, then
 * `[user@]host` (the user before the first '@', over any -l), then the
 * command; without one it would be rlogin.
 */

export interface Remote {
  kind: 'remote';
  user: string | null;
  host: string;
  port: string | null;
  /** Options for the real client again, one word per option or value (-o and Key=Value apart). */
  options: string[];
  /** -n (or rsh never): the remote command's stdin is /dev/null. */
  stdinNull: boolean;
  /** The remote command's words (ssh joins them with spaces for the remote shell). */
  command: string[];
}

/** Not rewritten: the real client runs as given (and reports what it thinks of the line). */
export interface Pass { kind: 'pass'; reason: string }

export type RemoteParse = Remote | Pass;

const SSH_FLAGS = '1246ACGKMNTVXYZafgknqstvxy';
const SSH_VALUED = 'BDEFIJLOPQRSWbceilmopw';
/** Modes with no remote command of ours to run: the client runs as given. */
const SSH_PASS_FLAGS: Record<string, string> = {
  '1': 'protocol 1', f: 'background after login (-f)', G: 'prints its configuration (-G)', N: 'no remote command (-N)',
  s: 'subsystem (-s)', V: 'prints its version (-V)', Z: 'prints public keys (-Z)',
};
const SSH_PASS_VALUED: Record<string, string> = {
  O: 'control command (-O)', Q: 'query (-Q)', W: 'stdio forwarding (-W)',
};
/** Dropped from the kept options: the relay carries stdio without a tty. */
const SSH_DROPPED = 'tT';
/** -o keywords (lower case) that change what runs remotely or how. */
const SSH_PASS_KEYWORDS = ['remotecommand', 'sessiontype', 'forkafterauthentication', 'stdinnull'];
const SSH_DROPPED_KEYWORDS = ['requesttty'];

function configKeyword(line: string): string {
  const m = /^\s*([^\s=]*)/.exec(line);
  return (m?.[1] ?? '').toLowerCase();
}

/** OpenSSH's a2port: a number 1-65535 or a service name (left to the client to look up). */
function badPort(p: string): boolean {
  if (!/^[0-9]+$/.test(p)) return p === '';
  const n = Number(p);
  return n < 1 || n > 65535;
}

/** %XX decoded (bytes, read as UTF-8); null when malformed or %00, as the C side. */
function decodeUriPart(s: string): string | null {
  const bytes: number[] = [];
  const raw = Buffer.from(s);
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== 0x25) { bytes.push(raw[i]!); continue; }
    const hex = raw.subarray(i + 1, i + 3).toString('latin1');
    if (!/^[0-9a-fA-F]{2}$/.test(hex) || hex === '00') return null;
    bytes.push(parseInt(hex, 16));
    i += 2;
  }
  return Buffer.from(bytes).toString();
}

/** ssh://[user[;params]@]host[:port][/]: null when not a URI, 'bad' when a malformed one. */
function parseSshUri(word: string): { user: string | null; host: string; port: string | null } | null | 'bad' {
  if (!word.startsWith('ssh://')) return null;
  let rest = word.slice(6);
  let user: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    let u = rest.slice(0, at);
    const semi = u.indexOf(';');
    if (semi >= 0) u = u.slice(0, semi);
    if (u === '') return 'bad';
    user = decodeUriPart(u);
    if (user === null) return 'bad';
    rest = rest.slice(at + 1);
  }
  let host: string;
  let after: string | null;
  let delim = '';
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) return 'bad';
    const next = rest[close + 1] ?? '';
    if (next !== '' && next !== ':' && next !== '/') return 'bad';
    host = rest.slice(1, close);
    delim = next;
    after = next === '' ? null : rest.slice(close + 2);
  } else {
    const m = /[:/]/.exec(rest);
    host = m ? rest.slice(0, m.index) : rest;
    delim = m ? m[0] : '';
    after = m ? rest.slice(m.index + 1) : null;
  }
  if (host === '') return 'bad';
  let port: string | null = null;
  if (after !== null && after !== '') {
    if (delim === ':') {
      const slash = after.indexOf('/');
      port = slash >= 0 ? after.slice(0, slash) : after;
      if (!/^[0-9]+$/.test(port) || badPort(port)) return 'bad';
      after = slash >= 0 ? after.slice(slash + 1) : null;
    }
    if (after !== null && after !== '') return 'bad';   // a path: not for ssh
  }
  return { user, host, port };
}

export function parseSsh(argv: readonly string[]): RemoteParse {
  const options: string[] = [];
  let user: string | null = null;
  let port: string | null = null;
  let host: string | null = null;
  let stdinNull = false;
  let i = 1;
  let terminated = false;
  // One getopt pass from argv[i]; returns a Pass or null, leaves i at the first non-option.
  const pass = (): Pass | null => {
    for (; i < argv.length; i++) {
      const w = argv[i]!;
      if (w === '--') { i++; terminated = true; return null; }
      if (w[0] !== '-' || w === '-') return null;
      for (let k = 1; k < w.length; k++) {
        const c = w[k]!;
        if (SSH_FLAGS.includes(c)) {
          if (SSH_PASS_FLAGS[c]) return { kind: 'pass', reason: SSH_PASS_FLAGS[c]! };
          if (c === 'n') stdinNull = true;
          else if (!SSH_DROPPED.includes(c)) options.push(`-${c}`);
          continue;
        }
        if (!SSH_VALUED.includes(c)) return { kind: 'pass', reason: `unknown option -${c}` };
        let value: string;
        if (k + 1 < w.length) value = w.slice(k + 1);
        else if (i + 1 < argv.length) value = argv[++i]!;
        else return { kind: 'pass', reason: `-${c} without its value` };
        if (SSH_PASS_VALUED[c]) return { kind: 'pass', reason: SSH_PASS_VALUED[c]! };
        if (c === 'l') { user ??= value; break; }
        if (c === 'p') {
          if (badPort(value)) return { kind: 'pass', reason: `bad port ${value}` };
          port ??= value;
          break;
        }
        if (c === 'o') {
          const key = configKeyword(value);
          if (SSH_PASS_KEYWORDS.includes(key)) return { kind: 'pass', reason: `-o ${key}` };
          if (SSH_DROPPED_KEYWORDS.includes(key)) break;
        }
        options.push(`-${c}`, value);
        break;
      }
    }
    return null;
  };
  let stop = pass();
  if (stop) return stop;
  if (i < argv.length) {
    const word = argv[i]!;
    const uri = parseSshUri(word);
    if (uri === 'bad') return { kind: 'pass', reason: `bad URI ${word}` };
    if (uri) {
      user ??= uri.user;
      port ??= uri.port;
      host = uri.host;
    } else {
      const at = word.lastIndexOf('@');
      if (at === 0) return { kind: 'pass', reason: `no user before @ in ${word}` };
      if (at > 0) user ??= word.slice(0, at);
      host = word.slice(at + 1);
    }
    i++;
    if (i < argv.length && !terminated) {
      stop = pass();
      if (stop) return stop;
    }
  }
  if (host === null || host === '') return { kind: 'pass', reason: 'no destination' };
  const command = argv.slice(i);
  if (command.length === 0) return { kind: 'pass', reason: 'no remote command (a login shell)' };
  return { kind: 'remote', user, host, port, options, stdinNull, command };
}

const RSH_FLAGS = '46v';
const RSH_VALUED = 'lp';

export function parseRsh(argv: readonly string[]): RemoteParse {
  const options: string[] = [];
  let user: string | null = null;
  let port: string | null = null;
  let i = 1;
  scan: for (; i < argv.length; i++) {
    const w = argv[i]!;
    if (w === '--') { i++; break; }
    if (w[0] !== '-' || w === '-') break;
    for (let k = 1; k < w.length; k++) {
      const c = w[k]!;
      if (RSH_FLAGS.includes(c)) { options.push(`-${c}`); continue; }
      if (!RSH_VALUED.includes(c)) return { kind: 'pass', reason: `unknown option -${c}` };
      let value: string;
      if (k + 1 < w.length) value = w.slice(k + 1);
      else if (i + 1 < argv.length) value = argv[++i]!;
      else return { kind: 'pass', reason: `-${c} without its value` };
      if (c === 'l') user = value; else port = value;
      continue scan;
    }
  }
  if (i >= argv.length) return { kind: 'pass', reason: 'no destination' };
  let host = argv[i++]!;
  const at = host.indexOf('@');
  if (at >= 0) { user = host.slice(0, at); host = host.slice(at + 1); }
  if (host === '') return { kind: 'pass', reason: 'no destination' };
  const command = argv.slice(i);
  if (command.length === 0) return { kind: 'pass', reason: 'no remote command (rlogin)' };
  return { kind: 'remote', user, host, port, options, stdinNull: false, command };
}

/** The client's name as exec saw it decides the grammar: ssh, rsh, or null (neither). */
export function parseRemote(argv: readonly string[], name: string): RemoteParse | null {
  const base = name.slice(name.lastIndexOf('/') + 1);
  if (base === 'ssh') return parseSsh(argv);
  if (base === 'rsh') return parseRsh(argv);
  return null;
}
