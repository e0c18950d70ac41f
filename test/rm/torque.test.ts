// Every Torque / PBS fixture read into the Job it describes. These fixtures
// are reconstructed (no Torque server on Debian 12), so tests rely only on
// what the README says adapters may rely on.
import assert from 'node:assert/strict';
import { detectJob, detectKind } from '../../src/rm/index.js';
import {
  jobFromQstat,
  parseExecHost,
  parseNodefile,
  parseQstat,
  parseQstatText,
  parseQstatXml,
  pbsJobFromEnv,
  type ExecHostEntry,
} from '../../src/rm/torque.js';
import type { Job } from '../../src/rm/types.js';
import { fixturePath, readEnvFixture, readFixture } from './fixtures.js';

/** qsub -l nodes=2:ppn=4 as job 1234.head.example.org on node01, node02. */
const torqueJob: Job = {
  rm: 'torque',
  id: '1234.head.example.org',
  name: 'ckpt-demo',
  nodes: [
    { host: 'node01', slots: 4 },
    { host: 'node02', slots: 4 },
  ],
  submitDir: '/home/user/job',
  restartCount: 0,
  tasksPerNode: [4, 4],
  arrayTaskId: null,
  arrayJobId: null,
  thisNode: null,
};

/** Reads only the nodefile the environment names, from the fixture given. */
function nodefileFrom(env: NodeJS.ProcessEnv, fixture: string) {
  return (path: string) => {
    assert.equal(path, env.PBS_NODEFILE);
    return readFixture('torque', fixture);
  };
}

describe('torque: nodefiles and exec_host', () => {
  it('PBS_NODEFILE-2x4.txt is node01 and node02 with 4 slots each', () => {
    assert.deepEqual(parseNodefile(readFixture('torque', 'PBS_NODEFILE-2x4.txt')), torqueJob.nodes);
  });

  it('PBS_NODEFILE-uneven.txt keeps order and counts 2, 1, 3', () => {
    assert.deepEqual(parseNodefile(readFixture('torque', 'PBS_NODEFILE-uneven.txt')), [
      { host: 'cn001', slots: 2 },
      { host: 'cn002', slots: 1 },
      { host: 'cn003', slots: 3 },
    ]);
  });

  const cases = JSON.parse(readFixture('torque', 'exec_host-cases.json')) as Array<{ input: string; expected: ExecHostEntry[] }>;
  it('exec_host-cases.json has cases', () => assert.ok(cases.length >= 5));
  for (const c of cases) {
    it(`exec_host ${c.input}`, () => assert.deepEqual(parseExecHost(c.input), c.expected));
  }

  it('refuses exec_host entries that are not host/slots', () => {
    assert.throws(() => parseExecHost('node01'), /node01/);
    assert.throws(() => parseExecHost('node01/3-1'), /bad slot range "3-1"/);
  });
});

describe('torque: qstat -f and qstat -f -x', () => {
  it('qstat-f-torque.txt is the 2x4 job; start_count 1 means no restart yet', () => {
    const q = parseQstatText(readFixture('torque', 'qstat-f-torque.txt'));
    assert.equal(q.fromSlurmWrapper, false);
    assert.equal(q.attrs.Rerunable, 'True');
    assert.deepEqual(jobFromQstat(q), torqueJob);
  });

  it('joins Variable_List continuation lines', () => {
    const q = parseQstatText(readFixture('torque', 'qstat-f-torque.txt'));
    const vars = q.attrs.Variable_List ?? '';
    assert.ok(vars.startsWith('PBS_O_QUEUE=batch,PBS_O_HOME=/home/user,PBS_O_LOGNAME=user,'), vars);
    assert.ok(vars.endsWith('PBS_O_HOST=login1.example.org,PBS_O_SERVER=head.example.org'), vars);
    assert.equal(q.attrs.euser, 'user'); // the attribute after the wrapped one is its own again
  });

  it('qstat-f-x-torque.xml (range form) is the same job as the text', () => {
    const q = parseQstatXml(readFixture('torque', 'qstat-f-x-torque.xml'));
    assert.equal(q.attrs['Resource_List.nodes'], '2:ppn=4');
    assert.equal(q.attrs['Walltime.Remaining'], '3538');
    assert.equal(q.attrs.exec_host, 'node01/0-3+node02/0-3');
    assert.deepEqual(jobFromQstat(q), torqueJob);
  });

  it('qstat-f-x-torque4.xml (one entry per slot) is the same job too', () => {
    const q = parseQstat(readFixture('torque', 'qstat-f-x-torque4.xml'));
    assert.deepEqual(jobFromQstat(q), torqueJob);
  });

  it('counts restarts from start_count and falls back to Variable_List for the directory', () => {
    const q = parseQstatText(readFixture('torque', 'qstat-f-torque.txt'));
    q.attrs.start_count = '3';
    delete q.attrs.init_work_dir;
    const job = jobFromQstat(q);
    assert.equal(job.restartCount, 2);
    assert.equal(job.submitDir, '/home/user/job');
  });
});

describe('torque and pbs: environment fixtures', () => {
  it('env-torque-6.txt with its 2x4 nodefile is the same job as qstat shows', () => {
    const env = readEnvFixture('torque', 'env-torque-6.txt');
    assert.equal(detectKind(env), 'torque');
    const rm = detectJob(env, { readFile: nodefileFrom(env, 'PBS_NODEFILE-2x4.txt'), hostname: 'node01.example.org' });
    assert.deepEqual(rm.job, { ...torqueJob, thisNode: 'node01' });
    assert.deepEqual(rm.requeueArgv(), ['qrerun', '1234.head.example.org']);
    assert.equal(rm.endSignal.signal, 'SIGTERM');
  });

  it('env-torque-array.txt is task 3 of array 1240[]', () => {
    const env = readEnvFixture('torque', 'env-torque-array.txt');
    assert.equal(detectKind(env), 'torque');
    // No nodefile fixture for this job; PBS_NP=1 means a one-line file.
    assert.deepEqual(pbsJobFromEnv(env, 'node03\n', 'torque'), {
      rm: 'torque',
      id: '1240[3].head.example.org',
      name: 'sweep-3',
      nodes: [{ host: 'node03', slots: 1 }],
      submitDir: '/home/user/sweep',
      restartCount: 0,
      tasksPerNode: [1],
      arrayTaskId: '3',
      arrayJobId: '1240[].head.example.org',
      thisNode: null,
    } satisfies Job);
  });

  it('env-openpbs.txt is OpenPBS (no PBS_NUM_NODES / PBS_NP)', () => {
    const env = readEnvFixture('torque', 'env-openpbs.txt');
    assert.equal(detectKind(env), 'pbs');
    const rm = detectJob(env, { readFile: nodefileFrom(env, 'PBS_NODEFILE-2x4.txt'), hostname: 'elsewhere' });
    assert.equal(rm.kind, 'pbs');
    assert.deepEqual(rm.job, { ...torqueJob, rm: 'pbs', id: '1234.pbs-server', thisNode: 'elsewhere' });
    assert.deepEqual(rm.requeueArgv(), ['qrerun', '1234.pbs-server']);
  });

  it('reads the real nodefile the environment points at', () => {
    const env = { ...readEnvFixture('torque', 'env-torque-6.txt'), PBS_NODEFILE: fixturePath('torque', 'PBS_NODEFILE-uneven.txt') };
    assert.deepEqual(
      detectJob(env).job.nodes.map((n) => n.slots),
      [2, 1, 3],
    );
  });

  it('says which nodefile is missing', () => {
    const env = { ...readEnvFixture('torque', 'env-torque-6.txt'), PBS_NODEFILE: '/nonexistent/nodefile' };
    assert.throws(() => detectJob(env), /cannot read PBS_NODEFILE \/nonexistent\/nodefile/);
    const { PBS_NODEFILE: _unused, ...without } = env;
    assert.throws(() => detectJob(without), /PBS_NODEFILE is not set/);
  });
});
