// A python3 mpi4py program (Debian's python3-mpi4py, built against Open MPI)
// of 4 ranks on one host under `stasis launch mpirun`: ring, allreduce and a
// storm of point-to-point messages (test/programs/mpi/mpi4py_exchange.py),
// checkpointed mid-run, every process killed, restarted — twice — finishes
// with the checksum of an uninterrupted run.
import { execa } from 'execa';
import { join } from 'node:path';
import { repoRoot } from '../helpers/stasis.js';
import { mpiImpls, twoRestartsToDone, uninterruptedDone } from '../helpers/mpi.js';

const STEPS = '200';
const ompi = mpiImpls[0]!;   // Debian's mpi4py is built against Open MPI
const argv = [...ompi.launcher(4), '/usr/bin/python3', join(repoRoot, 'test', 'programs', 'mpi', 'mpi4py_exchange.py'), STEPS];

describe('MPI on one host: python3 mpi4py under Open MPI 4.1', function () {
  this.timeout(300000);
  let uninterrupted = '';
  before(async function () {
    const has = await execa('/usr/bin/python3', ['-c', 'import mpi4py'], { reject: false });
    if (has.exitCode !== 0) {
      console.log('    skipped: python3-mpi4py is not installed (scripts/install-deps.sh)');
      this.skip();
    }
    uninterrupted = await uninterruptedDone(argv, ompi.env);
  });

  it('4 ranks checkpointed mid-run, all killed, restarted, twice: the checksum of an uninterrupted run', async () => {
    await twoRestartsToDone(argv, ompi.env, uninterrupted);
  });
});
