// Slurm hostlists ("n[01-04,7],gpu[1-2]") expanded and compressed the way
// Slurm 22.05's src/common/hostlist.c does it, checked against real
// `scontrol show hostnames` / `scontrol show hostlist` output
// (../shared/fixtures/slurm/hostlist-cases.json). Pure: no I/O.

/** Slurm refuses a single range wider than this (MAX_RANGE in hostlist.c). */
export const MAX_HOSTS_PER_RANGE = 65536;

/**
 * Slurm puts no limit on a whole list, but bracket groups multiply
 * (`a[1-60000]b[1-60000]`); past this we refuse rather than exhaust memory.
 */
export const MAX_HOSTS_PER_LIST = 1 << 20;

/** Slurm splits hostlists on comma, space and tab (outside brackets). */
const SEPARATORS = new Set([',', ' ', '\t']);

/** One numeric range from inside brackets: lo..hi printed `width` digits wide. */
interface NumericRange {
  lo: number;
  hi: number;
  width: number;
}

export class HostlistError extends Error {
  constructor(input: string, why: string) {
    super(`invalid hostlist "${input}": ${why}`);
    this.name = 'HostlistError';
  }
}

/** Expands a Slurm hostlist into host names, in Slurm's order, duplicates kept. */
export function expandHostlist(hostlist: string): string[] {
  const hosts: string[] = [];
  for (const token of splitTokens(hostlist)) {
    for (const host of expandToken(token, hostlist)) {
      hosts.push(host);
      if (hosts.length > MAX_HOSTS_PER_LIST) {
        throw new HostlistError(hostlist, `more than ${MAX_HOSTS_PER_LIST} hosts`);
      }
    }
  }
  return hosts;
}

/** Splits on separators that are outside brackets; rejects unbalanced brackets. */
function splitTokens(hostlist: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let inBracket = false;
  for (const ch of hostlist) {
    if (ch === '[') {
      if (inBracket) throw new HostlistError(hostlist, 'nested "["');
      inBracket = true;
    } else if (ch === ']') {
      // Slurm passes a stray "]" through as part of a host name; no real
      // host is named that way, so it is far more likely a typo.
      if (!inBracket) throw new HostlistError(hostlist, 'unbalanced "]"');
      inBracket = false;
    } else if (!inBracket && SEPARATORS.has(ch)) {
      if (current) tokens.push(current);
      current = '';
      continue;
    }
    current += ch;
  }
  // Slurm turns "n[1-3" into the single host "n]"; refusing is kinder.
  if (inBracket) throw new HostlistError(hostlist, 'unbalanced "["');
  if (current) tokens.push(current);
  return tokens;
}

/**
 * A token is text and bracket groups: t0[g1]t1[g2]...[gk]. Slurm 22.05
 * refuses text after the last group ("x[1-2]-ib").
 */
function expandToken(token: string, whole: string): string[] {
  if (!token.includes('[')) return [token];
  const texts: string[] = [];
  const groups: NumericRange[][] = [];
  let rest = token;
  for (;;) {
    const open = rest.indexOf('[');
    if (open < 0) break;
    const close = rest.indexOf(']', open);
    texts.push(rest.slice(0, open));
    groups.push(parseRangeList(rest.slice(open + 1, close), whole));
    rest = rest.slice(close + 1);
  }
  if (rest !== '') {
    throw new HostlistError(whole, `text "${rest}" after the last "]" (Slurm 22.05 rejects it)`);
  }
  return cartesian(texts, groups, whole);
}

/**
 * Slurm's order, which is not the plain odometer order once there are three
 * groups or more: the last group varies fastest, then the first, second, …
 * up to the one before last, which varies slowest (hostlist.c expands the
 * prefix recursively from its rightmost group). For two groups this is the
 * usual a1b3,a1b4,a2b3,a2b4.
 */
function cartesian(texts: string[], groups: NumericRange[][], whole: string): string[] {
  const last = groups.length - 1;
  const names = groups.map(rangeNames);
  // Loop nest from outermost to innermost: groups last-1, last-2, …, 0, last.
  const order = [...Array(last).keys()].reverse().concat(last);
  const picked: string[] = new Array<string>(groups.length).fill('');
  const out: string[] = [];
  const walk = (depth: number): void => {
    if (depth === order.length) {
      out.push(texts.map((t, i) => t + picked[i]).join(''));
      if (out.length > MAX_HOSTS_PER_LIST) {
        throw new HostlistError(whole, `more than ${MAX_HOSTS_PER_LIST} hosts`);
      }
      return;
    }
    const g = order[depth] as number;
    for (const n of names[g] ?? []) {
      picked[g] = n;
      walk(depth + 1);
    }
  };
  walk(0);
  return out;
}

function rangeNames(ranges: NumericRange[]): string[] {
  const out: string[] = [];
  for (const r of ranges) {
    for (let n = r.lo; n <= r.hi; n++) out.push(String(n).padStart(r.width, '0'));
  }
  return out;
}

/** "1-3,7,09-11" → ranges; each item as Slurm's _parse_single_range reads it. */
function parseRangeList(list: string, whole: string): NumericRange[] {
  return list.split(',').map((item) => parseRange(item, whole));
}

/**
 * Mirrors strtoul-based parsing in hostlist.c, corners included: the width
 * is the length of the low bound's text ("009-11" pads to 3, "1-02" to 1),
 * a missing high bound means "just lo" ("1-" is 1), and strtoul skips
 * leading blanks and a "+" sign.
 */
function parseRange(item: string, whole: string): NumericRange {
  const bad = (why: string) => new HostlistError(whole, `bad range "${item}": ${why}`);
  if (item.includes('x')) throw bad('not a number'); // Slurm reserves "x" for 3-D boxes
  const dash = item.indexOf('-');
  const loText = dash < 0 ? item : item.slice(0, dash);
  const hiText = dash < 0 ? '' : item.slice(dash + 1);
  if (hiText.startsWith('-')) throw bad('negative number');
  const lo = readUnsigned(loText);
  // Slurm checks only that the low bound starts with a number; the whole
  // item must be a number only when there is no high bound.
  if (!lo || (dash < 0 && lo.rest !== '')) throw bad('not a number');
  let hi = lo.value;
  if (hiText !== '') {
    const h = readUnsigned(hiText);
    if (!h || h.rest !== '') throw bad('not a number');
    hi = h.value;
  }
  if (lo.value > hi) throw bad('low bound above high bound');
  if (hi - lo.value + 1 > MAX_HOSTS_PER_RANGE) {
    throw bad(`more than ${MAX_HOSTS_PER_RANGE} hosts in one range`);
  }
  return { lo: lo.value, hi, width: loText.length };
}

/** Like C's strtoul(s, &end, 10): leading blanks, optional "+", digits. */
function readUnsigned(text: string): { value: number; rest: string } | null {
  const m = /^[ \t\n\v\f\r]*\+?([0-9]+)/.exec(text);
  if (!m) return null;
  const value = Number(m[1]);
  if (!Number.isSafeInteger(value)) return null;
  return { value, rest: text.slice(m[0].length) };
}

// ---- compression ---------------------------------------------------------

/** A run of hosts prefix+lo … prefix+hi, or one host with no numeric suffix. */
interface HostRun {
  prefix: string;
  lo: number;
  hi: number;
  width: number;
  single: boolean;
}

/**
 * Compresses host names into a Slurm hostlist exactly as
 * `scontrol show hostlist` does: the given order is kept (no sorting, no
 * de-duplication), only neighbours that continue a run are merged, and
 * consecutive runs with the same prefix share one bracket ("n[1-3,7]").
 */
export function compressHostlist(hosts: readonly string[]): string {
  const runs: HostRun[] = [];
  for (const host of hosts) {
    if (host === '' || /[\[\],\s]/.test(host)) {
      throw new Error(`cannot put host name "${host}" in a hostlist: it is empty or holds a separator or bracket`);
    }
    pushRun(runs, toRun(host));
  }
  const parts: string[] = [];
  for (let i = 0; i < runs.length; ) {
    const first = runs[i] as HostRun;
    if (first.single) {
      parts.push(first.prefix);
      i++;
      continue;
    }
    const members: HostRun[] = [first];
    for (i++; i < runs.length && sameBracket(runs[i - 1] as HostRun, runs[i] as HostRun); i++) {
      members.push(runs[i] as HostRun);
    }
    const body = members.map(runText).join(',');
    const bracket = members.length > 1 || first.hi > first.lo;
    parts.push(bracket ? `${first.prefix}[${body}]` : first.prefix + body);
  }
  return parts.join(',');
}

/** Splits a host into its prefix and numeric suffix ("n007" → n, 7, width 3). */
function toRun(host: string): HostRun {
  const m = /^(.*?)([0-9]+)$/s.exec(host);
  const value = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(value)) {
    return { prefix: host, lo: 0, hi: 0, width: 0, single: true };
  }
  const prefix = m[1] as string;
  const digits = m[2] as string;
  return { prefix, lo: value, hi: value, width: digits.length, single: false };
}

/** Appends a host, extending the last run when it continues it (hostlist_push_range). */
function pushRun(runs: HostRun[], run: HostRun): void {
  const tail = runs[runs.length - 1];
  if (
    tail &&
    !tail.single &&
    !run.single &&
    tail.prefix === run.prefix &&
    tail.hi === run.lo - 1 &&
    reconcileWidths(tail, run)
  ) {
    tail.hi = run.hi;
    return;
  }
  runs.push(run);
}

function sameBracket(a: HostRun, b: HostRun): boolean {
  return !a.single && !b.single && a.prefix === b.prefix;
}

function runText(r: HostRun): string {
  const pad = (n: number) => String(n).padStart(r.width, '0');
  return r.hi > r.lo ? `${pad(r.lo)}-${pad(r.hi)}` : pad(r.lo);
}

/** Zeros needed to print `n` in `width` digits. */
function zerosFor(n: number, width: number): number {
  return Math.max(0, width - String(n).length);
}

/**
 * Two widths are compatible when using either one leaves the padding of the
 * other run's first number unchanged: "n9" (width 1) continues as "n10"
 * (width 2), but "n9" does not continue as "n010". On success both runs take
 * the same width (hostlist.c's _width_equiv).
 */
function reconcileWidths(a: HostRun, b: HostRun): boolean {
  if (a.width === b.width) return true;
  const aSame = zerosFor(a.lo, a.width) === zerosFor(a.lo, b.width);
  const bSame = zerosFor(b.lo, b.width) === zerosFor(b.lo, a.width);
  if (!aSame && !bSame) return false;
  if (!aSame) b.width = a.width;
  else a.width = b.width;
  return true;
}
