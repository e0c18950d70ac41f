// Launcher detection (src/mpi) against the launchers installed here: Debian's
// alternatives symlinks, wrappers whose name says nothing (asked --version),
// srun's PMI plugin; and what `stasis launch` of one sets for the ranks.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { detectLauncher, mpiEnvironment, transports } from '../../src/mpi/index.js';
import { Job } from '../helpers/stasis.js';

const PATH = process.env.PATH ?? '/usr/bin:/bin';

describe('MPI launcher detection', () => {
  let dir = '';
  before(() => { dir = mkdtempSync(join(tmpdir(), 'stasis-mpi-detect-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** An executable script `name` in dir that execs `target`: only its --version tells. */
  const wrapper = (name: string, target: string) => {
    const f = join(dir, name);
    writeFileSync(f, `#!/bin/sh\nexec ${target} "$@"\n`);
    chmodSync(f, 0o755);
    return { PATH: `${dir}:${PATH}` };
  };

  it('mpirun and mpiexec through the alternatives symlinks are Open MPI (orterun)', () => {
    for (const name of ['mpirun', 'mpiexec', 'mpirun.openmpi', 'orterun']) {
      const l = detectLauncher([name, '-np', '2', './app'], { PATH });
      assert.equal(l?.family, 'openmpi', name);
      assert.equal(l?.kind, 'mpirun');
      assert.match(l!.file, /\/orterun$/);
    }
  });

  it('mpiexec.hydra, mpiexec.mpich and mpirun.mpich are MPICH', () => {
    for (const name of ['mpiexec.hydra', 'mpiexec.mpich', 'mpirun.mpich'])
      assert.equal(detectLauncher([name, '-n', '2', './app'], { PATH })?.family, 'mpich', name);
  });

  it('a launcher named only mpiexec or mpirun is asked for its --version', () => {
    assert.equal(detectLauncher(['mpiexec', '-n', '2', './app'], wrapper('mpiexec', 'mpiexec.hydra'))?.family, 'mpich');
    assert.equal(detectLauncher(['mpirun', '-np', '2', './app'], wrapper('mpirun', 'orterun'))?.family, 'openmpi');
    // Neither implementation's words: no family, both families' variables.
    const env = wrapper('mpirun', 'echo');
    assert.equal(detectLauncher(['mpirun', './app'], env)?.family, null);
    assert.deepEqual(mpiEnvironment(['mpirun', './app'], env), { ...transports.openmpi, ...transports.mpich });
  });

  it('srun with its PMI plugin from --mpi, else SLURM_MPI_TYPE', () => {
    // A stand-in named srun: srun itself may not be installed, and only its name is read.
    const env = wrapper('srun', 'true');
    assert.equal(detectLauncher(['srun', '--mpi=pmi2', '-n', '4', './app'], env)?.pmi, 'pmi2');
    assert.equal(detectLauncher(['srun', '--mpi', 'pmix', './app'], env)?.pmi, 'pmix');
    assert.equal(detectLauncher(['srun', '-n', '4', './app', '--mpi=x'], { ...env, SLURM_MPI_TYPE: 'pmix' })?.pmi, 'pmix');
    assert.equal(detectLauncher(['srun', './app'], env)?.kind, 'srun');
  });

  it('no MPI launcher: nothing set; a rank slurmstepd started directly: both families', () => {
    assert.equal(detectLauncher(['sleep', '1'], { PATH }), null);
    assert.deepEqual(mpiEnvironment(['sleep', '1'], { PATH }), {});
    assert.deepEqual(mpiEnvironment(['./app'], { PATH, SLURM_STEP_ID: '0', PMI_FD: '5' }), { ...transports.openmpi, ...transports.mpich });
  });

  it("the user's own settings are left alone", () => {
    const env = { PATH, OMPI_MCA_btl: 'self,tcp' };
    const set = mpiEnvironment(['mpirun', './app'], env);
    assert.equal(set.OMPI_MCA_btl, undefined);
    assert.equal(set.OMPI_MCA_pml, 'ob1');
  });
});

describe('stasis launch of an MPI launcher', function () {
  this.timeout(120000);

  it("the ranks get the transport variables (not over the user's) and stasis prints nothing", async () => {
    const job = new Job();
    try {
      const p = job.launch(['mpirun.openmpi', '--allow-run-as-root', '--oversubscribe', '-np', '2', 'env'],
        { env: { PATH, OMPI_MCA_btl: 'self,tcp', OMPI_MCA_btl_tcp_if_include: 'lo', OMPI_MCA_oob_tcp_if_include: 'lo' } });
      assert.equal(await p.waitExit(60000), 0, p.tail());
      const count = (l: string) => p.lines.filter((x) => x === l).length;
      assert.equal(count('OMPI_MCA_pml=ob1'), 2);
      assert.equal(count('OMPI_MCA_osc=^ucx'), 2);
      assert.equal(count('OMPI_MCA_btl=self,tcp'), 2);
      assert.equal(count('UCX_TLS=self,tcp,posix,sysv,cma'), 0);
      assert.deepEqual(p.errLines.filter((l) => l.trim()), []);
    } finally {
      await job.cleanup();
    }
  });
});
