// The verbs run for real: the fan-out shell that pbsdsh / pbs_tmrsh / ssh
// launches use, exercised with local commands (no scheduler is faked).
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectJob } from '../../src/rm/index.js';
import { localJob, localResourceManager } from '../../src/rm/local.js';
import { pbsTmrshArgv } from '../../src/rm/pbs.js';
import { runAllArgv, shellCommand, sshArgv } from '../../src/rm/spawn.js';
import { pbsdshArgv } from '../../src/rm/torque.js';
import type { ResourceManager } from '../../src/rm/types.js';
import { requeue, spawnOnNodes } from '../../src/rm/verbs.js';

const local = (): ResourceManager => localResourceManager(localJob({ hostname: hostname(), cpus: 2, cwd: '/' }));

describe('rm verbs: argv', () => {
  it('pbsdsh: one host is a plain pbsdsh -h', () => {
    assert.deepEqual(pbsdshArgv(['node01'], ['/bin/echo', 'a b']), ['pbsdsh', '-h', 'node01', '/bin/echo', 'a b']);
  });
  it('pbsdsh: several hosts and copies run together under one sh', () => {
    const argv = pbsdshArgv(['node01', 'node02'], ['/bin/true'], 2);
    assert.equal(argv[0], 'sh');
    assert.equal(argv[1], '-c');
    const script = argv[2] ?? '';
    assert.equal(script.match(/pbsdsh -h node01 \/bin\/true &/g)?.length, 2);
    assert.equal(script.match(/pbsdsh -h node02 \/bin\/true &/g)?.length, 2);
  });
  it('pbs_tmrsh and ssh get one shell command line', () => {
    assert.deepEqual(pbsTmrshArgv(['cn1'], ['echo', "it's"]), ['pbs_tmrsh', 'cn1', `echo 'it'\\''s'`]);
    assert.deepEqual(sshArgv('cn1', ['ls', '-l']).slice(-2), ['cn1', 'ls -l']);
  });
  it('quoted command lines give back the same words through a real shell', async () => {
    const words = ['a b', "it's", '$HOME', '`x`', '"q"', '', '*', 'back\\slash', 'new\nline'];
    const r = await execa('sh', ['-c', `printf '%s\\0' ${shellCommand(words)}`]);
    assert.deepEqual(r.stdout.split('\0').slice(0, -1), words);
  });
  it('refuses nonsense', () => {
    assert.throws(() => runAllArgv([]), /no hosts/);
    assert.throws(() => pbsdshArgv(['n1'], ['x'], 0), /tasksPerNode/);
  });
});

describe('rm verbs: spawnOnNodes and requeue, run for real', () => {
  it('runs once per copy on this host and collects every line', async () => {
    const r = await spawnOnNodes(local(), [hostname()], ['sh', '-c', 'echo "hello from $0"', 'task'], { tasksPerNode: 3 });
    assert.equal(r.exitCode, 0);
    assert.deepEqual(r.stdout, ['hello from task', 'hello from task', 'hello from task']);
  });
  it('one failing copy makes the whole spawn fail with its status', async () => {
    // Both copies try to make the same directory: exactly one wins.
    const dir = mkdtempSync(join(tmpdir(), 'stasis-verbs-'));
    const script = 'mkdir "$0" 2>/dev/null && exit 0; exit 3';
    const r = await spawnOnNodes(local(), [hostname(), 'localhost'], ['sh', '-c', script, join(dir, 'once')]);
    rmSync(dir, { recursive: true });
    assert.equal(r.exitCode, 3);
  });
  it('a launcher that is not installed reports 127 and why', async () => {
    const missing: ResourceManager = { ...local(), spawnArgv: (_h, argv) => ['stasis-no-such-launcher', ...argv] };
    const r = await spawnOnNodes(missing, ['x'], ['true']);
    assert.equal(r.exitCode, 127);
    assert.match(r.stderr.join('\n'), /ENOENT|not found/);
  });
  it('a local job cannot be requeued, and says so', async () => {
    await assert.rejects(requeue(local()), /cannot requeue: the local adapter/);
  });
  it('detectJob falls back to this host when no RM variables are set', () => {
    const rm = detectJob({}, { hostname: 'box', cpus: 6, cwd: '/w' });
    assert.equal(rm.kind, 'local');
    assert.deepEqual(rm.job.nodes, [{ host: 'box', slots: 6 }]);
    assert.equal(rm.requeueArgv(), null);
    assert.deepEqual(rm.spawnArgv(['box'], ['id']), ['id']);
    assert.deepEqual(rm.spawnArgv(['other'], ['id']).slice(0, 1), ['ssh']);
  });
});
