// The process tree of a generation, for the restart loader: one loader per
// root (a process whose parent is not in the job), given its whole subtree
// as `--tree VPID:PPID:PGID:SID:IMAGE...` with the root first.
// Pids are unique only within an origin host (the host they came from): a
// tree never spans origins, and each origin's trees are found on their own.
// An empty list is not possible: a manifest has at least one process.
import { join } from 'node:path';
import { originOf, type Manifest, type ManifestProcess } from './manifest.js';

/** A root cut out of a cycle gets parent 0: its recorded parent is in the tree, and would fork it again. */
function node(p: ManifestProcess, dir: string, cut = false): string {
  return `${p.pid}:${cut ? 0 : p.ppid ?? 0}:${p.pgid ?? 0}:${p.sid ?? 0}:${join(dir, p.image)}`;
}

/** One loader: the origin its images come from, the host they ran on, its argv (without the program name). */
export interface LoaderTree { origin: string; host: string; images: string[]; argv: string[] }

/**
 * Roots: processes whose parent is not in the job. A parent outside the job
 * whose pid equals a pid of the job (the kernel's pids on the restoring
 * host are not the job's) makes a cycle without a root: each cycle is cut
 * at its lowest pid, the one forked first, so that every process still has
 * a loader (a process no loader restores stalls the whole restart).
 */
function rootsOf(procs: ManifestProcess[]): { roots: ManifestProcess[]; cut: Set<ManifestProcess> } {
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const roots = procs.filter((p) => p.ppid === undefined || !byPid.has(p.ppid) || p.ppid === p.pid);
  const cut = new Set<ManifestProcess>();
  const reached = new Set<ManifestProcess>();
  const reach = (p: ManifestProcess) => {
    reached.add(p);
    for (const c of childrenOf(procs, p)) if (!reached.has(c)) reach(c);
  };
  roots.forEach(reach);
  for (const p of procs) {
    if (reached.has(p)) continue;
    const chain: ManifestProcess[] = [];
    let q: ManifestProcess | undefined = p;
    while (q && !chain.includes(q) && !reached.has(q)) { chain.push(q); q = byPid.get(q.ppid!); }
    const cycle = q && chain.includes(q) ? chain.slice(chain.indexOf(q)) : chain;
    const lowest = cycle.reduce((a, b) => (b.pid < a.pid ? b : a));
    roots.push(lowest);
    cut.add(lowest);
    reach(lowest);
  }
  return { roots, cut };
}

/** The processes whose parent is `p` (never `p` itself: a pid 1 names itself its parent). */
function childrenOf(procs: ManifestProcess[], p: ManifestProcess): ManifestProcess[] {
  return procs.filter((c) => c.ppid === p.pid && c !== p);
}

function treesOf(procs: ManifestProcess[], dir: string): LoaderTree[] {
  const pids = new Set(procs.map((p) => p.pid));
  const { roots, cut } = rootsOf(procs);
  const isRoot = new Set(roots);
  // The launched program (the lowest pid: it came first) stays in the
  // restarter's session; a root in another session whose leader is not in
  // the job (a double-forked daemon's) gets a session of its own again.
  const main = roots.reduce((a, b) => (b.pid < a.pid ? b : a), roots[0]!);
  return roots.map((root) => {
    const subtree: ManifestProcess[] = [];
    const visit = (p: ManifestProcess) => {
      subtree.push(p);
      childrenOf(procs, p).filter((c) => !isRoot.has(c)).forEach(visit);
    };
    visit(root);
    const own = root !== main && root.sid !== undefined && root.sid !== main.sid && !pids.has(root.sid) ? ['--new-session'] : [];
    const argv = [...own, ...(subtree.length === 1 ? [join(dir, root.image)] : ['--tree', ...subtree.map((p) => node(p, dir, cut.has(p)))])];
    return { origin: originOf(root), host: root.host, images: subtree.map((p) => p.image), argv };
  });
}

/** Every loader of the generation, grouped by origin in the manifest's order. */
export function loaderTrees(manifest: Manifest, dir: string): LoaderTree[] {
  const byOrigin = new Map<string, ManifestProcess[]>();
  for (const p of manifest.processes) byOrigin.set(originOf(p), [...(byOrigin.get(originOf(p)) ?? []), p]);
  return [...byOrigin.values()].flatMap((procs) => treesOf(procs, dir));
}

/** Loader argv (without the program name) for each root of the tree. */
export function loaderArgvs(manifest: Manifest, dir: string): string[][] {
  return loaderTrees(manifest, dir).map((t) => t.argv);
}
