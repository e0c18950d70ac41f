// A python3 mpi4py program (Debian's python3-mpi4py, built against Open MPI)
// of 4 ranks on one host under `stasis launch mpirun`: ring, allreduce and a
// storm of point-to-point messages (test/programs/mpi/mpi4py_exchange.py),
// checkpointed mid-run, every process killed, restarted — twice — finishes
// with the checksum of an uninterrupted run.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { join } from 'node:path';
import { Job, noBroken, numbers, repoRoot, type Running } from '../helpers/stasis.js';

const STEPS = '200';
const program = ['/usr/bin/python3', join(repoRoot, 'test', 'programs', 'mpi', 'mpi4py_exchange.py'), STEPS];
const launcher = ['mpirun.openmpi', '--allow-run-as-root', '--oversubscribe', '-np', '4'];
// Loopback only: bridges of test clusters come and go on this machine.
const env = { OMPI_MCA_btl_tcp_if_include: 'lo', OMPI_MCA_oob_tcp_if_include: 'lo' };
const progress = /^step (\d+) sum [0-9a-f]+$/;

describe('MPI on one host: python3 mpi4py under Open MPI 4.1', function () {
  this.timeout(300000);
  let uninterrupted = '';
  before(async function () {
    const has = await execa('/usr/bin/python3', ['-c', 'import mpi4py'], { reject: false });
    if (has.exitCode !== 0) {
      console.log('    skipped: python3-mpi4py is not installed (scripts/install-deps.sh)');
      this.skip();
    }
    const r = await execa(launcher[0]!, [...launcher.slice(1), ...program], { env: { ...process.env, ...env }, reject: false, timeout: 180000 });
    assert.equal(r.exitCode, 0, `the uninterrupted run failed: ${r.stderr}`);
    uninterrupted = String(r.stdout).split('\n').find((l) => l.startsWith('done ')) ?? '';
    assert.match(uninterrupted, /^done [0-9a-f]{16}$/);
  });

  it('4 ranks checkpointed mid-run, all killed, restarted, twice: the checksum of an uninterrupted run', async () => {
    const job = new Job();
    try {
      let p: Running = job.launch([...launcher, ...program], { env });
      for (let round = 1; round <= 2; round++) {
        await p.waitFor(progress, 90000, p.lines.length);
        const ck = await job.checkpoint();
        assert.equal(ck.generation, round);
        const at = numbers(p.lines, progress).at(-1)!;
        await job.killTree(p);
        p = job.restart();
        const next = Number((await p.waitFor(progress, 90000))[1]);
        assert.ok(next >= at, `restart ${round} printed step ${next}, before the checkpoint's ${at}`);
      }
      assert.equal(await p.waitExit(180000), 0, p.tail());
      noBroken(p.lines);
      assert.equal(p.lines.find((l) => l.startsWith('done ')), uninterrupted, p.tail());
    } finally {
      await job.cleanup();
    }
  });
});
