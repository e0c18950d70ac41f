// OpenPBS / PBS Pro: the same PBS_* variables and nodefile as Torque (parsed
// in torque.ts), but no `pbsdsh -h HOST`: tasks go through pbs_tmrsh, PBS's
// rsh-like TM launcher, which takes one host and a shell command line.
import { pbsEndSignal } from './torque.js';
import { hostsWithCopies, runAllArgv, shellCommand } from './spawn.js';
import type { Job, ResourceManager } from './types.js';

export function pbsTmrshArgv(hosts: string[], argv: string[], tasksPerNode = 1): string[] {
  return runAllArgv(hostsWithCopies(hosts, tasksPerNode).map((h) => ['pbs_tmrsh', h, shellCommand(argv)]));
}

export function pbsResourceManager(job: Job): ResourceManager {
  return {
    kind: 'pbs',
    job,
    spawnArgv: (hosts, argv, opts) => pbsTmrshArgv(hosts, argv, opts?.tasksPerNode),
    requeueArgv: () => (job.id ? ['qrerun', job.id] : null),
    endSignal: pbsEndSignal,
  };
}
