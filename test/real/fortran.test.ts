// A gfortran OpenMP program on two threads (OMP_NUM_THREADS=2, as a user
// sets it), compiled once for the suite.
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { realTest, removeTempDirs, tempDir, workloads } from './harness.js';

describe('real programs: gfortran OpenMP, checkpointed, killed and restarted twice', function () {
  this.timeout(180000);
  let bin = '';
  before(() => {
    bin = join(tempDir('stasis-real-omp-bin-'), 'omp');
    execFileSync('gfortran', ['-O2', '-fopenmp', '-o', bin, join(workloads, 'omp.f90')]);
  });
  after(removeTempDirs);

  realTest('gfortran -fopenmp reduction on two threads', () => ({
    name: 'gfortran-omp', argv: [bin], env: { OMP_NUM_THREADS: '2' },
  }));
});
