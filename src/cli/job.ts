// stasis job [--json] [--rm KIND]: what the resource manager says about the
// job this process runs in. Scripts and the test cluster read --json.
import type { CommandModule } from 'yargs';
import { compressHostlist } from '../rm/hostlist.js';
import { detectJob, RM_KINDS, type ResourceManager, type RmKind } from '../rm/index.js';
import { intOption } from './options.js';

interface Args {
  json: boolean;
  rm?: string;
  signalBefore?: number;
}

/** The Job itself, plus the verbs' argv so a script need not rebuild them. */
export function jobReport(rm: ResourceManager): object {
  return { ...rm.job, endSignal: rm.endSignal, requeueArgv: rm.requeueArgv() };
}

function shellLine(argv: string[] | null): string {
  return argv ? argv.join(' ') : '-';
}

export function formatJob(rm: ResourceManager): string {
  const j = rm.job;
  const hosts = j.nodes.map((n) => n.host);
  const slots = j.nodes.reduce((sum, n) => sum + n.slots, 0);
  const lines = [
    `rm          ${j.rm}`,
    `id          ${j.id ?? '-'}`,
    `name        ${j.name ?? '-'}`,
    `nodes       ${safeCompress(hosts)} (${hosts.length} node${hosts.length === 1 ? '' : 's'}, ${slots} slot${slots === 1 ? '' : 's'})`,
    ...j.nodes.map((n, i) => `  ${n.host}  ${n.slots} slot${n.slots === 1 ? '' : 's'}, ${j.tasksPerNode[i] ?? 0} task(s)`),
    `this node   ${j.thisNode ?? '-'}`,
    `submit dir  ${j.submitDir ?? '-'}`,
    `restarts    ${j.restartCount}`,
  ];
  if (j.arrayTaskId) lines.push(`array task  ${j.arrayTaskId} of ${j.arrayJobId ?? '?'}`);
  const e = rm.endSignal;
  const when = e.secondsBefore === null ? '' : ` ${e.secondsBefore} s before the end`;
  lines.push(`end signal  ${e.signal}${when}: ${e.how}`);
  lines.push(`requeue     ${shellLine(rm.requeueArgv())}`);
  return lines.join('\n') + '\n';
}

/** Host names from a nodefile may not fit a hostlist; show them plainly then. */
function safeCompress(hosts: string[]): string {
  try {
    return compressHostlist(hosts);
  } catch {
    return hosts.join(' ');
  }
}

export const jobCommand: CommandModule<object, Args> = {
  command: 'job',
  describe: 'Show the batch job this runs in (Slurm, Torque, PBS, or none): id, nodes, slots, restarts',
  builder: (y) =>
    y
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' })
      .option('rm', { type: 'string', choices: RM_KINDS as RmKind[], describe: 'use this resource manager, not the detected one' })
      .option('signal-before', intOption('signal-before', 'seconds of sbatch --signal=B:USR1@N (Slurm does not export it)')),
  // async: yargs hands a rejected handler to .fail() (one line, exit 2).
  handler: async (argv) => {
    const rm = detectJob(process.env, { rm: argv.rm as RmKind | undefined, signalSecondsBefore: argv.signalBefore ?? null });
    process.stdout.write(argv.json ? JSON.stringify(jobReport(rm), null, 2) + '\n' : formatJob(rm));
  },
};
