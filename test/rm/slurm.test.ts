// Every Slurm fixture (real Slurm 22.05 dumps) read into the Job it describes.
// Expected values were worked out by reading each file by hand.
import assert from 'node:assert/strict';
import { detectJob, detectKind } from '../../src/rm/index.js';
import { expandCounts, parseScontrolShowJob, slurmJobFromEnv, slurmJobFromScontrol, srunArgv } from '../../src/rm/slurm.js';
import { jobFromQstat, parsePbsnodes, parseQstatText } from '../../src/rm/torque.js';
import type { Job } from '../../src/rm/types.js';
import { readEnvFixture, readFixture } from './fixtures.js';

/** The N4 job: sbatch -N4 --ntasks-per-node=2 -J ckpt-demo, job 3 on n[1-4]. */
const n4Job: Job = {
  rm: 'slurm',
  id: '3',
  name: 'ckpt-demo',
  nodes: [
    { host: 'n1', slots: 2 },
    { host: 'n2', slots: 2 },
    { host: 'n3', slots: 2 },
    { host: 'n4', slots: 2 },
  ],
  submitDir: '/home/user/job',
  restartCount: 0,
  tasksPerNode: [2, 2, 2, 2],
  arrayTaskId: null,
  arrayJobId: null,
  thisNode: 'n1',
};

const requeueJob: Job = {
  rm: 'slurm',
  id: '7',
  name: 'requeue.sh',
  nodes: [
    { host: 'n1', slots: 1 },
    { host: 'n2', slots: 1 },
  ],
  submitDir: '/home/user/job',
  restartCount: 0,
  tasksPerNode: [1, 1],
  arrayTaskId: null,
  arrayJobId: null,
  thisNode: 'n1',
};

describe('slurm: environment fixtures', () => {
  it('sbatch-N4-n2pn.batch.env is job 3 on n[1-4], 2 slots and 2 tasks each', () => {
    assert.deepEqual(slurmJobFromEnv(readEnvFixture('slurm', 'sbatch-N4-n2pn.batch.env')), n4Job);
  });

  for (let task = 0; task < 8; task++) {
    const node = `n${Math.floor(task / 2) + 1}`;
    it(`sbatch-N4-n2pn.srun-task${task}.env is the same job, seen from ${node}`, () => {
      const env = readEnvFixture('slurm', `sbatch-N4-n2pn.srun-task${task}.env`);
      assert.deepEqual(slurmJobFromEnv(env), { ...n4Job, thisNode: node });
    });
  }

  it('srun-N3-n5.task0.env has uneven tasks 2(x2),1', () => {
    assert.deepEqual(slurmJobFromEnv(readEnvFixture('slurm', 'srun-N3-n5.task0.env')), {
      rm: 'slurm',
      id: '9',
      name: 'bash',
      nodes: [
        { host: 'n1', slots: 2 },
        { host: 'n2', slots: 2 },
        { host: 'n3', slots: 1 },
      ],
      submitDir: '/home/user/job',
      restartCount: 0,
      tasksPerNode: [2, 2, 1],
      arrayTaskId: null,
      arrayJobId: null,
      thisNode: 'n1',
    } satisfies Job);
  });

  it('requeue-run0.env has no SLURM_RESTART_COUNT: restart 0', () => {
    assert.deepEqual(slurmJobFromEnv(readEnvFixture('slurm', 'requeue-run0.env')), requeueJob);
  });

  it('requeue-run1.env is the same job after one requeue: restart 1', () => {
    assert.deepEqual(slurmJobFromEnv(readEnvFixture('slurm', 'requeue-run1.env')), { ...requeueJob, restartCount: 1 });
  });

  it('array-task1.env is task 1 of array 5, itself job 6', () => {
    const job = slurmJobFromEnv(readEnvFixture('slurm', 'array-task1.env'));
    assert.deepEqual(job, {
      rm: 'slurm',
      id: '6',
      name: 'array.sh',
      nodes: [{ host: 'n1', slots: 1 }],
      submitDir: '/home/user/job',
      restartCount: 0,
      tasksPerNode: [1],
      arrayTaskId: '1',
      arrayJobId: '5',
      thisNode: 'n1',
    } satisfies Job);
  });

  it('array-task2.env is task 2 of array 5, whose job id is the array id', () => {
    const job = slurmJobFromEnv(readEnvFixture('slurm', 'array-task2.env'));
    assert.equal(job.id, '5');
    assert.equal(job.arrayTaskId, '2');
    assert.equal(job.arrayJobId, '5');
    assert.deepEqual(job.nodes, [{ host: 'n2', slots: 1 }]);
    assert.equal(job.thisNode, 'n2');
  });

  it('torque-wrapper-qsub-job.env: a qsub job through Slurm\'s wrappers has only SLURM_*, so it is a Slurm job', () => {
    const env = readEnvFixture('slurm', 'torque-wrapper-qsub-job.env');
    assert.equal(detectKind(env), 'slurm');
    assert.deepEqual(detectJob(env).job, {
      rm: 'slurm',
      id: '8',
      name: 'qtest',
      nodes: [
        { host: 'n1', slots: 2 },
        { host: 'n2', slots: 2 },
      ],
      submitDir: '/home/user/job',
      restartCount: 0,
      tasksPerNode: [2, 2],
      arrayTaskId: null,
      arrayJobId: null,
      thisNode: 'n1',
    } satisfies Job);
  });

  it('refuses an environment without a node list, naming the variable', () => {
    assert.throws(() => slurmJobFromEnv({ SLURM_JOB_ID: '4' }), /SLURM_JOB_NODELIST/);
    assert.throws(() => slurmJobFromEnv({ SLURM_JOB_ID: '4', SLURM_JOB_NODELIST: 'n[2-1]' }), /n\[2-1\]/);
  });
});

describe('slurm: scontrol and wrapper output', () => {
  it('scontrol-show-job.txt is the N4 job (seen from outside, so no node of its own)', () => {
    assert.deepEqual(slurmJobFromScontrol(readFixture('slurm', 'scontrol-show-job.txt')), { ...n4Job, thisNode: null });
  });

  it('reads scontrol keys that hold ":" and "/"', () => {
    const f = parseScontrolShowJob(readFixture('slurm', 'scontrol-show-job.txt'));
    assert.equal(f.get('NtasksPerN:B:S:C'), '2:0:*:*');
    assert.equal(f.get('CPUs/Task'), '1');
    assert.equal(f.get('BatchHost'), 'n1');
    assert.equal(f.get('Power'), '');
  });

  it('torque-wrapper-qstat-f.txt: the wrapper\'s exec_host n1/2+n2/2 counts CPUs, matching the job\'s env', () => {
    const q = parseQstatText(readFixture('slurm', 'torque-wrapper-qstat-f.txt'));
    assert.equal(q.fromSlurmWrapper, true);
    assert.equal(q.id, '8');
    const job = jobFromQstat(q);
    assert.deepEqual(job, {
      rm: 'torque',
      id: '8',
      name: 'qtest',
      nodes: [
        { host: 'n1', slots: 2 },
        { host: 'n2', slots: 2 },
      ],
      submitDir: null,
      restartCount: 0,
      tasksPerNode: [2, 2],
      arrayTaskId: null,
      arrayJobId: null,
      thisNode: null,
    } satisfies Job);
    const fromEnv = slurmJobFromEnv(readEnvFixture('slurm', 'torque-wrapper-qsub-job.env'));
    assert.deepEqual(job.nodes, fromEnv.nodes);
    assert.equal(Number(q.attrs['Resource_List.ncpus']), 4);
  });
});

describe('slurm: counts and verbs', () => {
  it('expands SLURM_TASKS_PER_NODE forms', () => {
    assert.deepEqual(expandCounts('2(x3),1'), [2, 2, 2, 1]);
    assert.deepEqual(expandCounts('1(x2)'), [1, 1]);
    assert.deepEqual(expandCounts('4'), [4]);
    assert.deepEqual(expandCounts('3,1(x1),2(x2)'), [3, 1, 2, 2]);
    assert.throws(() => expandCounts('2(3)', 'SLURM_TASKS_PER_NODE'), /SLURM_TASKS_PER_NODE "2\(3\)"/);
  });

  it('srun gets the node list compressed and explicit counts', () => {
    assert.deepEqual(srunArgv(['n1', 'n2', 'n3', 'n7'], ['hostname', '-s'], { tasksPerNode: 2 }), [
      'srun', '--nodelist=n[1-3,7]', '--nodes=4', '--ntasks=8', '--ntasks-per-node=2', '--overlap', 'hostname', '-s',
    ]);
    assert.throws(() => srunArgv(['n1', 'n1'], ['x']), /repeats/);
  });

  it('requeue is scontrol requeue of the job; an array task as ARRAYID_TASK (the array\'s id alone requeues every task)', () => {
    const rm = detectJob(readEnvFixture('slurm', 'array-task1.env'));
    assert.deepEqual(rm.requeueArgv(), ['scontrol', 'requeue', '5_1']);
    // The task whose own id is the array's id.
    assert.deepEqual(detectJob(readEnvFixture('slurm', 'array-task2.env')).requeueArgv(), ['scontrol', 'requeue', '5_2']);
    assert.deepEqual(detectJob(readEnvFixture('slurm', 'requeue-run0.env')).requeueArgv(), ['scontrol', 'requeue', '7']);
    assert.equal(rm.endSignal.signal, 'SIGUSR1');
    assert.equal(rm.endSignal.secondsBefore, null);
    const told = detectJob(readEnvFixture('slurm', 'requeue-run0.env'), { signalSecondsBefore: 60 });
    assert.equal(told.endSignal.secondsBefore, 60);
  });
});

describe('slurm: Torque wrapper pbsnodes', () => {
  it('torque-wrapper-pbsnodes.txt: the wrapper job\'s nodes are the busy ones, np = their slots', () => {
    const nodes = parsePbsnodes(readFixture('slurm', 'torque-wrapper-pbsnodes.txt'));
    assert.deepEqual(nodes, [
      { host: 'n1', state: 'job-exclusive', np: 2 },
      { host: 'n2', state: 'job-exclusive', np: 2 },
      { host: 'n3', state: 'free', np: 2 },
      { host: 'n4', state: 'free', np: null },
    ]);
    const job = jobFromQstat(parseQstatText(readFixture('slurm', 'torque-wrapper-qstat-f.txt')));
    const busy = nodes.filter((n) => n.state === 'job-exclusive').map((n) => ({ host: n.host, slots: n.np }));
    assert.deepEqual(busy, job.nodes);
  });
});
