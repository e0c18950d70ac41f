// MPI jobs on one host under `stasis launch`: Open MPI's mpirun and MPICH's
// mpiexec.hydra start 4 ranks of test/programs/mpi/mpi_exchange.c (ring,
// allreduce, a storm of point-to-point messages, a checksum). Checkpointed
// mid-run, every process killed, restarted — twice — each finishes with the
// checksum of an uninterrupted run. Open MPI runs ob1 with its vader
// shared-memory and tcp transports; MPICH (ch4:ucx) UCX's own choice:
// shared memory (posix/sysv, signalled through UNIX datagram sockets bound
// to abstract names), cross-memory attach (process_vm_readv with the peers'
// pids) and tcp. (Across hosts and on new node sets: issue 13.)
import { built, mpiImpls, twoRestartsToDone, uninterruptedDone } from '../helpers/mpi.js';

const STEPS = '350';

for (const impl of mpiImpls) {
  describe(`MPI on one host: ${impl.name}`, function () {
    this.timeout(240000);
    const argv = [...impl.launcher(4), impl.program, STEPS];
    let done = '';
    before(async function () {
      if (!built(impl)) {
        console.log(`    skipped: ${impl.program} was not built (its mpicc is missing: scripts/install-deps.sh)`);
        this.skip();
      }
      done = await uninterruptedDone(argv, impl.env);
    });

    it('4 ranks checkpointed mid-run, all killed, restarted, twice: the checksum of an uninterrupted run', async () => {
      await twoRestartsToDone(argv, impl.env, done);
    });
  });
}
