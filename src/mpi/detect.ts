// Which MPI launcher a command starts, and which implementation's: by the
// program's name once PATH and symlinks (Debian's alternatives: /usr/bin/mpirun
// → /etc/alternatives/mpirun → /usr/bin/orterun) are resolved, and where the
// name says nothing (a bare mpirun/mpiexec of a source build) by its --version.
import { execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { resolveProgram } from '../cli/reach.js';

export type MpiFamily = 'openmpi' | 'mpich';

export interface MpiLauncher {
  /** mpirun-like (ranks are its descendants) or srun (ranks are slurmstepd's). */
  kind: 'mpirun' | 'srun';
  /** null: srun, or a launcher whose --version named neither implementation. */
  family: MpiFamily | null;
  /** The file exec runs, symlinks resolved. */
  file: string;
  /** srun's PMI plugin (--mpi, else SLURM_MPI_TYPE), e.g. pmi2, pmix. */
  pmi?: string;
}

const byName: Record<string, MpiFamily> = {
  orterun: 'openmpi', 'mpirun.openmpi': 'openmpi', 'mpiexec.openmpi': 'openmpi', prterun: 'openmpi',
  'mpiexec.hydra': 'mpich', 'mpiexec.mpich': 'mpich', 'mpirun.mpich': 'mpich',
};
const ambiguous = new Set(['mpirun', 'mpiexec']);

/** The family a launcher's --version names (Open MPI 4: "(OpenRTE)", 5: PRRTE; MPICH: "HYDRA build details"). */
export function familyFromVersion(text: string): MpiFamily | null {
  if (/Open MPI|OpenRTE|PRRTE|PMIx Reference RunTime/i.test(text)) return 'openmpi';
  if (/HYDRA|MPICH/.test(text)) return 'mpich';
  return null;
}

function askVersion(file: string): MpiFamily | null {
  try {
    const out = execFileSync(file, ['--version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
    return familyFromVersion(out);
  } catch (e) {
    const o = e as { stdout?: string; stderr?: string };
    return familyFromVersion(`${o.stdout ?? ''}${o.stderr ?? ''}`);
  }
}

function srunPmi(argv: string[], env: NodeJS.ProcessEnv): string {
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--mpi=')) return a.slice(6);
    if (a === '--mpi' && argv[i + 1]) return argv[i + 1]!;
    if (!a.startsWith('-')) break;   // the program: its own options are not srun's
  }
  return env.SLURM_MPI_TYPE ?? 'default';
}

/** The MPI launcher argv[0] is, or null when it is none. */
export function detectLauncher(argv: string[], env: NodeJS.ProcessEnv = process.env): MpiLauncher | null {
  const name = argv[0];
  if (!name) return null;
  const found = resolveProgram(name, env.PATH);
  if (!found) return null;
  let file = found;
  try { file = realpathSync(found); } catch { /* exec will say why */ }
  for (const n of [basename(file), basename(found)]) {
    if (n === 'srun') return { kind: 'srun', family: null, file, pmi: srunPmi(argv, env) };
    if (byName[n]) return { kind: 'mpirun', family: byName[n]!, file };
  }
  if (ambiguous.has(basename(file)) || ambiguous.has(basename(found)))
    return { kind: 'mpirun', family: askVersion(file), file };
  return null;
}

/** This process is an MPI rank slurmstepd started (`srun --mpi=pmi2|pmix stasis launch ./app`). */
export function directLaunchedRank(env: NodeJS.ProcessEnv = process.env): boolean {
  return !!env.SLURM_STEP_ID && !!(env.PMI_FD || env.PMIX_NAMESPACE || env.PMI_RANK);
}
