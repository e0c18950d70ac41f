// The process tree of a generation, for the restart loader: one loader per
// root (a process whose parent is not in the job), given its whole subtree
// as `--tree VPID:PPID:PGID:SID:IMAGE...` with the root first.
// Pids are unique only within an origin host (the host they came from): a
// tree never spans origins, and each origin's trees are found on their own.
// An empty list is not possible: a manifest has at least one process.
import { join } from 'node:path';
import { originOf, type Manifest, type ManifestProcess } from './manifest.js';

function node(p: ManifestProcess, dir: string): string {
  return `${p.pid}:${p.ppid ?? 0}:${p.pgid ?? 0}:${p.sid ?? 0}:${join(dir, p.image)}`;
}

/** One loader: the origin its images come from, the host they ran on, its argv (without the program name). */
export interface LoaderTree { origin: string; host: string; images: string[]; argv: string[] }

function treesOf(procs: ManifestProcess[], dir: string): LoaderTree[] {
  const pids = new Set(procs.map((p) => p.pid));
  const childrenOf = (pid: number) => procs.filter((p) => p.ppid === pid && p.pid !== pid);
  const roots = procs.filter((p) => p.ppid === undefined || !pids.has(p.ppid) || p.ppid === p.pid);
  // The launched program (the lowest pid: it came first) stays in the
  // restarter's session; a root in another session whose leader is not in
  // the job (a double-forked daemon's) gets a session of its own again.
  const main = roots.reduce((a, b) => (b.pid < a.pid ? b : a), roots[0]!);
  return roots.map((root) => {
    const subtree: ManifestProcess[] = [];
    const visit = (p: ManifestProcess) => { subtree.push(p); childrenOf(p.pid).forEach(visit); };
    visit(root);
    const own = root !== main && root.sid !== undefined && root.sid !== main.sid && !pids.has(root.sid) ? ['--new-session'] : [];
    const argv = [...own, ...(subtree.length === 1 ? [join(dir, root.image)] : ['--tree', ...subtree.map((p) => node(p, dir))])];
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
