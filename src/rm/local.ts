// No resource manager: this host, one slot per CPU; other hosts by ssh.
import { hostsWithCopies, runAllArgv, sshArgv } from './spawn.js';
import type { EndSignal, Job, ResourceManager } from './types.js';

export interface LocalFacts {
  hostname: string;
  cpus: number;
  cwd: string;
}

export function localJob(facts: LocalFacts): Job {
  return {
    rm: 'local',
    id: null,
    name: null,
    nodes: [{ host: facts.hostname, slots: facts.cpus }],
    submitDir: facts.cwd,
    restartCount: 0,
    tasksPerNode: [1],
    arrayTaskId: null,
    arrayJobId: null,
    thisNode: facts.hostname,
  };
}

export const localEndSignal: EndSignal = {
  signal: 'SIGTERM',
  secondsBefore: null,
  how: 'no resource manager: whoever stops the program sends SIGTERM (or SIGINT from Ctrl-C)',
};

export function localResourceManager(job: Job): ResourceManager {
  const here = new Set(['localhost', job.thisNode ?? '', ...job.nodes.map((n) => n.host)]);
  return {
    kind: 'local',
    job,
    spawnArgv: (hosts, argv, opts) =>
      runAllArgv(hostsWithCopies(hosts, opts?.tasksPerNode).map((h) => (here.has(h) ? [...argv] : sshArgv(h, argv)))),
    requeueArgv: () => null,
    endSignal: localEndSignal,
  };
}
