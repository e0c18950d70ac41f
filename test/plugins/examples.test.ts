// examples/plugins, built by `npm run build` (native/build/examples), run as
// a user would: the session-id example against its toy service restarted
// between checkpoint and restart, and the delayed-transfer example whose
// checkpoint, asked for in the middle of a transfer, comes right after it.
import assert from 'node:assert/strict';
import { execa, type ResultPromise } from 'execa';
import { join } from 'node:path';
import { Job, repoRoot } from '../helpers/stasis.js';

const examples = join(repoRoot, 'native', 'build', 'examples');

/** examples/plugins/sessions/session_server.py on `path`, numbering from
 * `base`, once it listens (in an object: awaiting the process itself would
 * wait for its end). */
async function sessionServer(path: string, base: number): Promise<{ proc: ResultPromise }> {
  const server = execa('/usr/bin/python3', [join(repoRoot, 'examples', 'plugins', 'sessions', 'session_server.py'), path, String(base)],
    { reject: false, stdin: 'ignore', buffer: false });
  await new Promise<void>((resolve, reject) => {
    server.stdout!.once('data', () => resolve());
    server.once('exit', () => reject(new Error('session server exited')));
  });
  return { proc: server };
}

describe('examples/plugins/sessions: virtual ids for a service\'s numbers', function () {
  this.timeout(60000);
  let job: Job;
  const servers: Array<{ proc: ResultPromise }> = [];
  beforeEach(() => { job = new Job('stasis-sessions-'); });
  afterEach(async () => {
    for (const s of servers.splice(0)) { s.proc.kill('SIGKILL'); await s.proc.catch(() => undefined); }
    await job.cleanup();
  });

  it('the program keeps its ids across a restart of the service and of itself; the ids follow the new numbers', async () => {
    const socket = join(job.dir, 'sessions.sock');
    servers.push(await sessionServer(socket, 1000));
    const p = job.launch([join(examples, 'sessions_demo')], { env: { SESSIONS_SOCKET: socket } });
    await p.waitFor(/^tick 1 gamma /);
    const before = p.lines.filter((l) => l.startsWith('tick 1 '));
    assert.deepEqual(before.map((l) => l.replace(/ id \d+/, '')), ['tick 1 alpha real 1000 answer NAME alpha',
      'tick 1 beta real 1001 answer NAME beta', 'tick 1 gamma real 1002 answer NAME gamma']);
    const ids = before.map((l) => l.match(/ id (\d+) /)![1]);
    await job.checkpoint();
    await job.killTree(p);

    // Another service: numbers from 5000, the old ones unknown to it.
    servers.pop()!.proc.kill('SIGKILL');
    servers.push(await sessionServer(socket, 5000));
    const r = job.restart();
    const [, n] = await r.waitFor(/^tick (\d+) alpha /);
    await r.waitFor(new RegExp(`^tick ${n} gamma `));
    const after = r.lines.filter((l) => l.startsWith(`tick ${n} `));
    assert.deepEqual(after, [`tick ${n} alpha id ${ids[0]} real 5000 answer NAME alpha`,
      `tick ${n} beta id ${ids[1]} real 5001 answer NAME beta`, `tick ${n} gamma id ${ids[2]} real 5002 answer NAME gamma`]);
    assert.ok(!r.lines.some((l) => l.includes('ERR')), r.lines.join('\n'));
    await job.killTree(r);
  });

  it('without stasis the ids are the service\'s own numbers', async () => {
    const socket = join(job.dir, 'sessions.sock');
    servers.push(await sessionServer(socket, 1000));
    const r = await execa(join(examples, 'sessions_demo'), ['1'], { env: { SESSIONS_SOCKET: socket }, reject: false });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(r.stdout.split('\n').slice(3), ['tick 0 alpha id 1000 real 1000 answer NAME alpha',
      'tick 0 beta id 1001 real 1001 answer NAME beta', 'tick 0 gamma id 1002 real 1002 answer NAME gamma']);
  });
});

describe('examples/plugins/delayed_transfer: a checkpoint kept out of a critical section', function () {
  this.timeout(60000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-transfer-'); });
  afterEach(() => job.cleanup());

  it('asked for half-way through transfer 2, the checkpoint is taken right after it ends, before transfer 3; the image has the money whole', async () => {
    const p = job.launch([join(examples, 'transfer'), '1500', '0', '2']);
    const num = (re: RegExp) => p.waitFor(re).then((m) => Number(m[1]));
    const [began, asked, ended] = [await num(/^begin 2 at (\d+)$/), await num(/^asking during 2 at (\d+)$/), await num(/^end 2 at (\d+)$/)];
    const taken = await p.waitFor(/^checkpoint after (\d+) at (\d+): a (\d+) b (\d+) total (\d+)(.*)$/);
    await p.waitFor(/^asked: 0$/);
    const next = await num(/^begin 3 at (\d+)$/);
    const at = Number(taken[2]);
    assert.ok(began < asked && asked < ended, `asked at ${asked}, transfer 2 open from ${began} to ${ended}`);
    assert.equal(taken[1], '2', 'the checkpoint came after another transfer than the one it was asked in');
    assert.deepEqual(taken.slice(3), ['980', '20', '1000', ''], taken[0]);
    assert.ok(ended <= at && at - ended < 250, `taken at ${at}, ${at - ended} ms after transfer 2 ended`);
    assert.ok(at <= next, `transfer 3 began at ${next}, before the checkpoint at ${at}`);
    // Only one checkpoint: the one asked for.
    assert.equal(p.lines.filter((l) => l.startsWith('checkpoint after')).length, 1);
    await job.killTree(p);

    const r = job.restart();
    // RESTARTED runs beside the program's threads (docs/plugin-api.md): the
    // two lines come in either order.
    await r.waitFor(/^asked: 1$/);
    await r.waitFor(/^restored after /);
    assert.ok(r.lines.includes('restored after 2: a 980 b 20 total 1000'), r.lines.join('\n'));
    await r.waitFor(/^end 3 at \d+$/, 10000);
    await job.killTree(r);
  });
});
