// Torque (and what Torque and OpenPBS share): the job from PBS_* variables
// and PBS_NODEFILE, or from `qstat -f` / `qstat -f -x`; pbsdsh and qrerun as
// verbs. Parsers take text, never paths, so fixtures test them directly.
import { createRequire } from 'node:module';
import type { EndSignal, Job, JobNode, ResourceManager, RmKind } from './types.js';
import { hostsWithCopies, runAllArgv } from './spawn.js';

/** The nodefile has one line per slot; hosts in first-seen order with their line counts. */
export function parseNodefile(text: string): JobNode[] {
  const nodes: JobNode[] = [];
  const byHost = new Map<string, JobNode>();
  for (const line of text.split('\n')) {
    const host = line.trim();
    if (!host) continue;
    const node = byHost.get(host);
    if (node) node.slots++;
    else {
      const fresh = { host, slots: 1 };
      byHost.set(host, fresh);
      nodes.push(fresh);
    }
  }
  return nodes;
}

export interface ExecHostEntry {
  host: string;
  /** Slot numbers as written: [0,1,2,3] for "0-3" (Slurm's qstat wrapper writes a CPU count here instead). */
  slots: number[];
}

/**
 * exec_host in both Torque forms: one entry per slot ("n1/3+n1/2+…", Torque
 * ≤ 4) and ranges ("n1/0-3+n2/0,2-3", Torque ≥ 5). Hosts in first-seen order.
 */
export function parseExecHost(execHost: string): ExecHostEntry[] {
  const entries: ExecHostEntry[] = [];
  const byHost = new Map<string, ExecHostEntry>();
  for (const part of execHost.trim().split('+')) {
    const m = /^([^/\s]+)\/([\d,-]+)$/.exec(part);
    if (!m) throw new Error(`cannot read exec_host "${execHost}": "${part}" is not host/slots`);
    const host = m[1] as string;
    const slots = parseSlotList(m[2] as string, execHost);
    const entry = byHost.get(host);
    if (entry) entry.slots.push(...slots);
    else {
      const fresh = { host, slots };
      byHost.set(host, fresh);
      entries.push(fresh);
    }
  }
  return entries;
}

function parseSlotList(list: string, whole: string): number[] {
  const slots: number[] = [];
  for (const item of list.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(item);
    const lo = Number(m?.[1]);
    const hi = m?.[2] === undefined ? lo : Number(m[2]);
    if (!m || hi < lo) throw new Error(`cannot read exec_host "${whole}": bad slot range "${item}"`);
    for (let s = lo; s <= hi; s++) slots.push(s);
  }
  return slots;
}

/** What `qstat -f` says about one job: its id and attributes with dotted names. */
export interface QstatJob {
  id: string;
  attrs: Record<string, string>;
  /** Printed by Slurm's Torque wrapper (slurm-wlm-torque), whose exec_host counts CPUs. */
  fromSlurmWrapper: boolean;
}

/**
 * `qstat -f` text: "Job Id: X", then "Key = value" lines; a line without
 * " = " continues the previous value (Variable_List wraps over lines).
 */
export function parseQstatText(text: string): QstatJob {
  const head = /^Job Id:([ \t]+)(\S+)/m.exec(text);
  if (!head) throw new Error('qstat -f output has no "Job Id:" line');
  const attrs: Record<string, string> = {};
  let last: string | null = null;
  for (const line of text.slice(head.index + head[0].length).split('\n')) {
    if (/^Job Id:/.test(line)) break; // only the first job
    const m = /^\s+([A-Za-z_][\w.]*) = (.*)$/.exec(line);
    if (m) {
      last = m[1] as string;
      attrs[last] = (m[2] as string).trim();
    } else if (last && line.trim()) {
      attrs[last] += line.trim();
    }
  }
  // The wrapper's Perl prints "Job Id:\t<id>"; Torque and PBS print a space.
  return { id: head[2] as string, attrs, fromSlurmWrapper: head[1] === '\t' };
}

/** `qstat -f -x` XML: <Data><Job><Job_Id>…; nested elements become dotted names. */
export function parseQstatXml(xml: string): QstatJob {
  // Loaded here, not at start-up: every stasis command imports this adapter, few read XML
  // (fast-xml-parser's CommonJS build is one file; its ESM build is many).
  const { XMLParser } = createRequire(import.meta.url)('fast-xml-parser') as typeof import('fast-xml-parser');
  const parser = new XMLParser({ parseTagValue: false, ignoreAttributes: true, trimValues: true });
  const doc = parser.parse(xml) as { Data?: { Job?: unknown } };
  const job = Array.isArray(doc.Data?.Job) ? (doc.Data?.Job as unknown[])[0] : doc.Data?.Job;
  if (!job || typeof job !== 'object') throw new Error('qstat -f -x output has no <Data><Job>');
  const attrs: Record<string, string> = {};
  flatten(job as Record<string, unknown>, '', attrs);
  const id = attrs.Job_Id;
  if (!id) throw new Error('qstat -f -x output has no <Job_Id>');
  delete attrs.Job_Id;
  return { id, attrs, fromSlurmWrapper: false };
}

function flatten(obj: Record<string, unknown>, prefix: string, out: Record<string, string>): void {
  for (const [key, value] of Object.entries(obj)) {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      flatten(value as Record<string, unknown>, `${prefix}${key}.`, out);
    } else {
      out[prefix + key] = String(value);
    }
  }
}

/** Either qstat format, told apart by its first character. */
export function parseQstat(output: string): QstatJob {
  return output.trimStart().startsWith('<') ? parseQstatXml(output) : parseQstatText(output);
}

/**
 * Asks the server: `qstat -f -x ID` (Torque, PBS), else `qstat -f ID` — the
 * Torque wrappers shipped with Slurm have no -x.
 */
export async function readQstat(jobId: string): Promise<QstatJob> {
  let lastError = '';
  for (const args of [['-f', '-x', jobId], ['-f', jobId]]) {
    const { execa } = await import('execa');   // not at start-up: 130 files, needed only here
    const r = await execa('qstat', args, { reject: false, stdin: 'ignore' });
    if (r.exitCode === 0 && r.stdout.trim()) return parseQstat(r.stdout);
    lastError = (r.stderr || r.shortMessage || `exit ${r.exitCode}`).trim().split('\n')[0] ?? '';
  }
  throw new Error(`qstat -f ${jobId} failed: ${lastError}`);
}

/** PBS_O_WORKDIR out of Variable_List ("A=1,PBS_O_WORKDIR=/x,B=2"). */
function workdirFromVariableList(list: string | undefined): string | null {
  const m = /(?:^|,)PBS_O_WORKDIR=([^,]*)/.exec(list ?? '');
  return m ? (m[1] as string) : null;
}

/** The job as qstat describes it (from outside the job, or where PBS_NODEFILE is missing). */
export function jobFromQstat(q: QstatJob, rm: RmKind = 'torque'): Job {
  const execHost = q.attrs.exec_host;
  if (!execHost) throw new Error(`qstat: job ${q.id} has no exec_host (is it running?)`);
  const entries = parseExecHost(execHost);
  const nodes = entries.map((e) => ({ host: e.host, slots: slotCount(e, q) }));
  const starts = Number(q.attrs.start_count ?? '');
  return {
    rm,
    id: q.id,
    name: q.attrs.Job_Name ?? null,
    nodes,
    submitDir: q.attrs.init_work_dir ?? workdirFromVariableList(q.attrs.Variable_List),
    // start_count counts starts, so the first run is 1.
    restartCount: Number.isInteger(starts) && starts > 0 ? starts - 1 : 0,
    tasksPerNode: nodes.map((n) => n.slots),
    arrayTaskId: arrayIndexOf(q.id),
    arrayJobId: arrayIdOf(q.id),
    thisNode: null,
  };
}

/** Slurm's wrapper writes host/ncpus (`n1/2` = 2 CPUs); Torque writes slot numbers. */
function slotCount(e: ExecHostEntry, q: QstatJob): number {
  return q.fromSlurmWrapper && e.slots.length === 1 ? (e.slots[0] as number) : e.slots.length;
}

/** Torque array ids look like 1240[3].server: the task is 3, the array 1240[].server. */
function arrayIndexOf(id: string): string | null {
  return /\[(\d+)\]/.exec(id)?.[1] ?? null;
}

function arrayIdOf(id: string): string | null {
  return /\[\d+\]/.test(id) ? id.replace(/\[\d+\]/, '[]') : null;
}

/**
 * The job from inside it: PBS_* variables plus the nodefile's text (the
 * caller reads the file). Shared by Torque and OpenPBS / PBS Pro.
 */
export function pbsJobFromEnv(env: NodeJS.ProcessEnv, nodefile: string, rm: RmKind): Job {
  const id = env.PBS_JOBID ?? null;
  const nodes = parseNodefile(nodefile);
  if (nodes.length === 0) throw new Error(`PBS job ${id ?? '?'}: the nodefile ${env.PBS_NODEFILE ?? ''} is empty`);
  return {
    rm,
    id,
    name: env.PBS_JOBNAME ?? null,
    nodes,
    submitDir: env.PBS_O_WORKDIR ?? null,
    // Neither Torque nor PBS exports a restart count; qstat's start_count has it.
    restartCount: 0,
    tasksPerNode: nodes.map((n) => n.slots),
    arrayTaskId: env.PBS_ARRAYID ?? env.PBS_ARRAY_INDEX ?? null,
    arrayJobId: env.PBS_ARRAY_ID ?? (id ? arrayIdOf(id) : null),
    thisNode: null,
  };
}

/** Torque has variables OpenPBS lacks (PBS_NUM_NODES, PBS_NP, PBS_VNODENUM, PBS_VERSION=TORQUE-…). */
export function looksLikeTorque(env: NodeJS.ProcessEnv): boolean {
  if (env.PBS_VERSION?.toUpperCase().startsWith('TORQUE')) return true;
  return ['PBS_NUM_NODES', 'PBS_NUM_PPN', 'PBS_NP', 'PBS_VNODENUM'].some((k) => env[k] !== undefined);
}

/** pbsdsh -h HOST starts a task through the mom (TM), no ssh needed. */
export function pbsdshArgv(hosts: string[], argv: string[], tasksPerNode = 1): string[] {
  return runAllArgv(hostsWithCopies(hosts, tasksPerNode).map((h) => ['pbsdsh', '-h', h, ...argv]));
}

export const pbsEndSignal: EndSignal = {
  signal: 'SIGTERM',
  secondsBefore: null,
  how:
    'on qdel, preemption or walltime the mom sends SIGTERM, then SIGKILL after kill_delay ' +
    '(2 s by default on Torque, 10 s on PBS Pro): ask the site for a longer kill_delay',
};

export function torqueResourceManager(job: Job): ResourceManager {
  return {
    kind: 'torque',
    job,
    spawnArgv: (hosts, argv, opts) => pbsdshArgv(hosts, argv, opts?.tasksPerNode),
    requeueArgv: () => (job.id ? ['qrerun', job.id] : null),
    endSignal: pbsEndSignal,
  };
}

export interface PbsNodeState {
  host: string;
  state: string | null;
  /** Slots the server gives the node (np), when listed. */
  np: number | null;
}

/** `pbsnodes` output: a node name at the start of a line, then indented "key = value" lines. */
export function parsePbsnodes(text: string): PbsNodeState[] {
  const nodes: PbsNodeState[] = [];
  for (const line of text.split('\n')) {
    if (/^\S/.test(line)) {
      nodes.push({ host: line.trim(), state: null, np: null });
      continue;
    }
    const m = /^\s+(state|np) = (.*)$/.exec(line);
    const node = nodes[nodes.length - 1];
    if (!m || !node) continue;
    if (m[1] === 'state') node.state = (m[2] as string).trim();
    else node.np = Number(m[2]);
  }
  return nodes;
}
