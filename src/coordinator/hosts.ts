// Where a coordinator listens when the job's processes live on several
// hosts (docs/protocol.md, Lifetime): --coord-host / STASIS_COORD_HOST, else
// inside an allocation of more than one node the address this node's name
// resolves to, else 127.0.0.1. Processes connect to numeric addresses only
// (native/core/coord.c), so a name is resolved here, once.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { detectJob } from '../rm/index.js';

/** The coord-host option: shared by launch, run, restart and coordinator. */
export const coordHostOption = {
  type: 'string', requiresArg: true,
  describe: 'address the coordinator listens on and processes on other hosts connect to (default: STASIS_COORD_HOST; in an allocation of several nodes, this node\'s address; else 127.0.0.1)',
} as const;

async function numeric(host: string): Promise<string> {
  if (isIP(host)) return host;
  try { return (await lookup(host, { family: 4 })).address; } catch (e) {
    throw new Error(`--coord-host ${host}: cannot resolve it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** The numeric address a coordinator of this job binds and advertises. */
export async function coordinatorHost(given?: string, env: NodeJS.ProcessEnv = process.env, otherHosts = false): Promise<string> {
  const want = given ?? env.STASIS_COORD_HOST;
  if (want) return numeric(want);
  // Processes on other hosts (a restart onto them) must reach it: this host's address.
  if (otherHosts) return numeric(hostname());
  let nodes: string[] = [];
  let here = hostname();
  try {
    const job = detectJob(env).job;
    nodes = job.nodes.map((n) => n.host);
    here = job.thisNode ?? here;
  } catch { /* no readable allocation: this host alone */ }
  return nodes.length > 1 ? numeric(here) : '127.0.0.1';
}
