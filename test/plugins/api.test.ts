// The public plugin API (native/include/stasis.h, docs/plugin-api.md), used
// the way a user would: programs linked with libstasis-client.so, a plugin
// .so loaded with `stasis launch --with-plugin`, real checkpoints, SIGKILL
// and restarts.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { Job, programs, repoRoot, type Running } from '../helpers/stasis.js';

// The same programs in C (linked with libstasis-client.so) and in Python
// (python/stasis from the checkout): the same output, the same tests.
const python = { PYTHONPATH: join(repoRoot, 'python') };
const pyProgram = (name: string) => ['/usr/bin/python3', join(repoRoot, 'test', 'programs', name)];
const languages = [
  { name: 'C', delay: [join(programs, 'api_delay')], env: {} },
  { name: 'Python', delay: pyProgram('api_delay.py'), env: python },
  { name: 'Node', delay: [process.execPath, join(repoRoot, 'test', 'programs', 'api_delay.cjs')], env: {} },
];

const apiCkpt = join(programs, 'api_ckpt');
const apiForker = join(programs, 'api_forker');
const eventLog = join(programs, 'plugins', 'event_log.so');
const apiUname = join(programs, 'api_uname');
const apiThreads = join(programs, 'api_threads');
const wrapUname = join(programs, 'plugins', 'wrap_uname.so');

/** The line matching `re` (throws naming the output when there is none). */
function lineOf(p: Running, re: RegExp): RegExpMatchArray {
  for (const l of p.lines) { const m = l.match(re); if (m) return m; }
  throw new Error(`no line ${re}: ${p.tail()}`);
}

/** The number in the last line matching `re`. */
function lineOfLast(p: Running, re: RegExp): string {
  const m = p.lines.filter((l) => re.test(l)).at(-1)?.match(re);
  if (!m) throw new Error(`no line ${re}: ${p.tail()}`);
  return m[1]!;
}

describe('plugin API: stasis_checkpoint() and a plugin\'s data', function () {
  this.timeout(60000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-api-'); });
  afterEach(() => job.cleanup());

  it('answers STASIS_CHECKPOINTED (0) after the commit, STASIS_RESTARTED (1) in the restored process, which finds the data and virtual ids of the checkpoint', async () => {
    const p = job.launch([apiCkpt, '40'], { stdin: 'pipe' });
    await p.waitFor(/^ready /);
    assert.equal(p.lines[0], 'api 2 enabled 1 timeout 60000');
    p.proc.stdin!.write('go\n');
    await p.waitFor(/^delay /);
    assert.ok(existsSync(join(job.dir, 'gen-000001', 'manifest.json')), 'returned before the generation was committed');
    assert.deepEqual(p.lines.slice(2, 8), ['save 0', 'returned 0 (success)', 'vid 1 real 100 set 0 now 200 back 1',
      'note 6 after', 'delay 0 0', 'checkpoint inside a section -3']);
    await p.kill9();

    const r = job.restart();
    assert.equal(await r.waitExit(30000), 0, r.tail());
    // Same memory as at the checkpoint: "before", not the "after" saved since.
    // The virtual id table as at the checkpoint (real 100, not the 200 set since).
    assert.deepEqual(r.lines.slice(0, 5), ['returned 1 (restarted from a checkpoint)', 'vid 1 real 100 set 0 now 300 back 1',
      'note 7 before', 'delay 0 0', 'checkpoint inside a section -3']);
    assert.equal(r.lines.at(-1), 'done');
  });

  it('Python: checkpoint() answers 0, then 1 after a restart; on_checkpoint, on_resume, on_restart run in order', async () => {
    const p = job.launch([...pyProgram('api_py.py'), '40'], { stdin: 'pipe', env: python });
    await p.waitFor(/^ready$/);
    assert.equal(p.lines[0], 'api 2 enabled 1');
    p.proc.stdin!.write('go\n');
    await p.waitFor(/^events /);
    assert.deepEqual(p.lines.slice(2, 6), ['delayed 0', 'inside -3', 'returned 0 success', 'events checkpoint,resume']);
    assert.ok(existsSync(join(job.dir, 'gen-000001', 'manifest.json')), 'returned before the generation was committed');
    await p.kill9();

    const r = job.restart();
    assert.equal(await r.waitExit(30000), 0, r.tail());
    assert.deepEqual(r.lines.slice(0, 2), ['returned 1 restarted from a checkpoint', 'events checkpoint,restart']);
    assert.equal(r.lines.at(-1), 'done');
  });

  it('Python installed with pip (from a copy of python/, no network): the same module, checkpoint() answers 0', async () => {
    const src = join(job.dir, 'src');
    cpSync(join(repoRoot, 'python'), src, { recursive: true });
    const site = join(job.dir, 'site');
    const pip = await execa('/usr/bin/python3', ['-m', 'pip', 'install', '--no-build-isolation', '--no-deps', '--no-index', '--target', site, src], { reject: false });
    assert.equal(pip.exitCode, 0, pip.stderr);
    const p = job.launch([...pyProgram('api_py.py'), '1'], { stdin: 'pipe', env: { PYTHONPATH: site } });
    await p.waitFor(/^ready$/);
    p.proc.stdin!.write('go\n');
    await p.waitFor(/^done$/);
    assert.deepEqual(p.lines.slice(0, 6), ['api 2 enabled 1', 'ready', 'delayed 0', 'inside -3', 'returned 0 success', 'events checkpoint,resume']);
  });

  it('Python without stasis: every call answers ERR_NOT_ENABLED (-1), no exception, exit 0', async () => {
    const r = await execa(pyProgram('api_py.py')[0]!, [pyProgram('api_py.py')[1]!, '1'], { input: 'go\n', reject: false, env: python });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(r.stdout.split('\n'), ['api 0 enabled 0', 'ready', 'delayed -1', 'inside -1',
      'returned -1 not running under stasis', 'events -', 'tick 0', 'done']);
  });

  const nodeProgram = [process.execPath, join(repoRoot, 'test', 'programs', 'api_node.cjs')];

  it('Node: checkpoint() resolves to 0, then 1 after a restart; onCheckpoint, onResume, onRestart run in order', async () => {
    const p = job.launch([...nodeProgram, '40'], { stdin: 'pipe' });
    await p.waitFor(/^ready$/);
    assert.equal(p.lines[0], 'api 2 enabled 1');
    p.proc.stdin!.write('go\n');
    await p.waitFor(/^events /);
    assert.deepEqual(p.lines.slice(2, 6), ['delayed 0', 'inside -3', 'returned 0 success', 'events checkpoint,resume']);
    assert.ok(existsSync(join(job.dir, 'gen-000001', 'manifest.json')), 'resolved before the generation was committed');
    await p.kill9();

    const r = job.restart();
    assert.equal(await r.waitExit(30000), 0, r.tail());
    assert.deepEqual(r.lines.slice(0, 2), ['returned 1 restarted from a checkpoint', 'events checkpoint,restart']);
    assert.equal(r.lines.at(-1), 'done');
  });

  it('Node without stasis: every call answers ERR_NOT_ENABLED (-1), no exception, exit 0', async () => {
    const r = await execa(nodeProgram[0]!, [nodeProgram[1]!, '1'], { input: 'go\n', reject: false });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(r.stdout.split('\n'), ['api 0 enabled 0', 'ready', 'delayed -1', 'inside -1',
      'returned -1 not running under stasis', 'events -', 'tick 0', 'done']);
  });

  for (const [lang, argv, env, reason] of [
    ['Python', pyProgram('api_py.py'), python, /python before: refused by the test/],
    ['Node', nodeProgram, {}, /node onCheckpoint: .*refused by the test/],
  ] as const) it(`${lang}: a callback that throws refuses the checkpoint, with its message; the resume callback still runs`, async () => {
    const p = job.launch([...argv, '3'], { stdin: 'pipe', env: { ...env, STASIS_TEST_REFUSE: '1' } });
    await p.waitFor(/^ready$/);
    p.proc.stdin!.write('go\n');
    await p.waitFor(/^done$/);
    assert.deepEqual(p.lines.slice(4, 6), ['returned -2 checkpoint failed', 'events checkpoint,resume']);
    assert.match(p.errLines.join('\n'), reason);
    assert.ok(!existsSync(join(job.dir, 'latest')), 'a generation was committed');
  });

  it('without stasis every call answers STASIS_ERR_NOT_ENABLED (-1) and the program ends cleanly', async () => {
    const r = await execa(apiCkpt, ['1'], { input: 'go\n', reject: false });
    assert.equal(r.exitCode, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.match(lines[1]!, /^ready \d+$/);
    assert.deepEqual([lines[0], ...lines.slice(2)], ['api 0 enabled 0 timeout -1', 'save -1',
      'returned -1 (not running under stasis)', 'vid -1 real -1 set -1 now -1 back -1', 'note -1 -', 'delay -1 -1',
      'checkpoint inside a section -1', 'tick 0', 'done']);
  });
});

for (const lang of languages) describe(`plugin API (${lang.name}): delayed sections`, function () {
  this.timeout(90000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-delay-'); });
  afterEach(() => job.cleanup());

  it('a checkpoint asked for inside a section is taken right after it ends, never inside (even counter saved and restored)', async () => {
    // 4 s sections, 20 ms apart: the request lands inside the one seen begin
    // (the CLI has 4 s to deliver it, which the last assertion checks).
    const p = job.launch([...lang.delay, '4000'], { env: lang.env });
    const [, k0] = await p.waitFor(/^inside (\d+) begin 0 at \d+$/);
    const sentAt = Date.now();
    const ck = await job.checkpoint();
    assert.equal(ck.generation, 1);
    const saved = await p.waitFor(/^saved counter (\d+), (-?\d+) ms after section (-?\d+) ended$/);
    const [counter, late, k] = [Number(saved[1]), Number(saved[2]), Number(saved[3])];
    assert.equal(counter % 2, 0, `saved inside a section: counter ${counter}`);
    assert.equal(counter, 2 * (k + 1), `counter ${counter} is not the one at the end of section ${k}`);
    assert.ok(late < 250, `taken ${late} ms after the section ended, not right after`);
    // The request was sent while that very section was open, and it waited.
    const began = Number(lineOf(p, new RegExp(`^inside ${k} begin 0 at (\\d+)$`))[1]);
    const ended = Number((await p.waitFor(new RegExp(`^ended ${k} rc 0 at (\\d+)$`)))[1]);
    assert.ok(k >= Number(k0) && began <= sentAt && sentAt < ended,
      `asked at ${sentAt}, section ${k} open from ${began} to ${ended}`);
    await job.killTree(p);

    const r = job.restart();
    const restored = Number((await r.waitFor(/^restored counter (\d+)$/))[1]);
    assert.equal(restored, counter, 'the image holds another counter than the one saved');
    await r.waitFor(new RegExp(`^ended ${k + 1} rc 0 at \\d+$`), 10000);
    await job.killTree(r);
  });

  it('past STASIS_DELAY_TIMEOUT the checkpoint fails, saying why, and the section learns it (STASIS_ERR_EXPIRED)', async () => {
    const p = job.launch([...lang.delay, '4000', '2'], { env: { ...lang.env, STASIS_DELAY_TIMEOUT: '1' } });
    await p.waitFor(/^inside 0 begin 0/);
    const r = await job.cli(['command', '--ckpt-dir', job.dir, '--checkpoint']);
    assert.notEqual(r.exitCode, 0, r.stdout);
    assert.match(r.stderr, /still inside a delayed section after 1 s \(STASIS_DELAY_TIMEOUT\)/);
    await p.waitFor(/^ended 0 rc -7 at /, 10000);
    await p.waitFor(/^ended 1 rc 0 at /, 10000);
    assert.ok(!existsSync(join(job.dir, 'latest')), 'a generation was committed');
    assert.ok(!p.lines.some((l) => l.startsWith('saved counter')), 'the checkpoint ran anyway');
  });
});

describe('plugin API: --with-plugin', function () {
  this.timeout(150000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-plugin-'); });
  afterEach(() => job.cleanup());

  const checkpointOnce = ['precheckpoint', 'suspended', 'drain', 'save', 'resume', 'postcheckpoint'];
  const restartOnce = ['restart', 'all-restored', 'resume', 'restarted'];

  it('a plugin sees every event in order, in the launched process and its forked child, across two restarts', async () => {
    const log = join(job.dir, 'events.log');
    const env = { STASIS_TEST_EVENT_LOG: log };
    const p = job.launch([apiForker], { flags: ['--with-plugin', eventLog], env });
    const [, parent, child] = (await p.waitFor(/^ready (\d+) (\d+)$/)).map(Number);
    await p.waitFor(/^child 3$/);
    assert.deepEqual(JSON.parse(readFileSync(join(job.dir, 'settings.json'), 'utf8')).plugins, [eventLog]);

    let running = p;
    for (const generation of [1, 2, 3]) {
      assert.equal((await job.checkpoint()).generation, generation);
      await job.killTree(running);
      if (generation === 3) break;
      running = job.restart(undefined, { env });
      await running.waitFor(/^parent \d+$/);
      await running.waitFor(/^child \d+$/);
    }

    const events = new Map<number, string[]>();
    for (const line of readFileSync(log, 'utf8').trim().split('\n')) {
      const [pid, what, gen] = line.split(' ');
      events.set(Number(pid), [...(events.get(Number(pid)) ?? []), `${what} ${gen}`]);
    }
    const expected = [1, 2, 3].flatMap((g) => [...checkpointOnce, ...(g < 3 ? restartOnce : [])].map((e) => `${e} ${g}`));
    assert.deepEqual(events.get(parent!), ['loaded 0', ...expected], `parent ${parent}`);
    assert.deepEqual(events.get(child!), expected, `child ${child}`);
    assert.deepEqual([...events.keys()].sort(), [parent, child].sort(), 'events from other processes');
  });

  it('a program the job execs loads the plugin too (STASIS_PLUGINS), before its first checkpoint, and keeps it across a restart', async () => {
    const log = join(job.dir, 'events.log');
    const env = { STASIS_TEST_EVENT_LOG: log };
    // sh forks, and the child execs api_forker, which forks again.
    const p = job.launch(['/bin/sh', '-c', `${apiForker}; exit 0`], { flags: ['--with-plugin', eventLog], env });
    const [, execd, child] = (await p.waitFor(/^ready (\d+) (\d+)$/)).map(Number);
    await p.waitFor(/^child 3$/);
    assert.equal((await job.checkpoint()).generation, 1);
    await job.killTree(p);
    const r = job.restart(undefined, { env });
    await r.waitFor(/^parent \d+$/);
    assert.equal((await job.checkpoint()).generation, 2);
    await job.killTree(r);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    const of = (pid: number) => lines.filter((l) => l.startsWith(`${pid} `)).map((l) => l.split(' ').slice(1).join(' '));
    const gen = (g: number, events: string[]) => events.map((e) => `${e} ${g}`);
    assert.deepEqual(of(execd!), ['loaded 0', ...gen(1, checkpointOnce), ...gen(1, restartOnce), ...gen(2, checkpointOnce)]);
    assert.deepEqual(of(child!), [...gen(1, checkpointOnce), ...gen(1, restartOnce), ...gen(2, checkpointOnce)]);
    const shell = [...new Set(lines.map((l) => Number(l.split(' ')[0])))].filter((pid) => pid !== execd && pid !== child);
    assert.equal(shell.length, 1, `processes seen: ${lines.join('; ')}`);
    assert.equal(of(shell[0]!)[0], 'loaded 0', 'the shell loaded it first');
  });

  it('a plugin refusing at PRECHECKPOINT fails the checkpoint with its reason; it still gets POSTCHECKPOINT, and nothing else', async () => {
    const log = join(job.dir, 'events.log');
    const p = job.launch([apiForker], { flags: ['--with-plugin', eventLog], env: { STASIS_TEST_EVENT_LOG: log, STASIS_TEST_REFUSE: '1' } });
    const [, parent, child] = (await p.waitFor(/^ready (\d+) (\d+)$/)).map(Number);
    await p.waitFor(/^child 3$/);
    const r = await job.cli(['command', '--ckpt-dir', job.dir, '--checkpoint']);
    assert.notEqual(r.exitCode, 0, r.stdout);
    assert.match(r.stderr, /event_log refuses the checkpoint/);
    assert.ok(!existsSync(join(job.dir, 'latest')), 'a generation was committed');
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    assert.deepEqual(lines.filter((l) => l.startsWith(`${parent} `)), [`${parent} loaded 0`, `${parent} precheckpoint 1`, `${parent} postcheckpoint 1`]);
    assert.deepEqual(lines.filter((l) => l.startsWith(`${child} `)), [`${child} precheckpoint 1`, `${child} postcheckpoint 1`]);
    await p.waitFor(new RegExp(`^parent ${Number(lineOfLast(p, /^parent (\d+)$/)) + 2}$`));
    await job.killTree(p);
  });

  it('--with-plugin takes existing files only, once, comma-separated', async () => {
    for (const [flags, why] of [
      [['--with-plugin', `${eventLog},missing.so`], /--with-plugin missing\.so: no such file/],
      [['--with-plugin', `${eventLog},`], /an empty item/],
      [['--with-plugin', eventLog, '--with-plugin', eventLog], /given more than once/],
    ] as const) {
      const r = job.launch([apiCkpt, '1'], { flags: [...flags] });
      assert.notEqual(await r.waitExit(), 0);
      assert.match(r.errLines.join('\n'), why);
      assert.ok(!r.lines.some((l) => l.startsWith('api ')), 'the program ran');
    }
  });
});

describe('plugin API: thread events (version 2)', function () {
  this.timeout(60000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-threads-'); });
  afterEach(() => job.cleanup());

  it('THREAD_START runs on the new thread before its routine, THREAD_EXIT on the ending one (return, pthread_exit, cancelled, and after a restart)', async () => {
    const p = job.launch([apiThreads]);
    await p.waitFor(/^returned /);
    const tids = new Map<number, string>();
    for (const l of p.lines) { const m = l.match(/^run (\d) tid (\d+)$/); if (m) tids.set(Number(m[1]), m[2]!); }
    const [t1, t2, t3] = [tids.get(1), tids.get(2), tids.get(3)];
    // Same tid at START as in the routine: the new thread. Its own index at
    // EXIT: the ending thread's TLS. No event from the checkpoint thread.
    assert.deepEqual(p.lines, ['api 2 enabled 1',
      `start 0 tid ${t1}`, `run 1 tid ${t1}`, `exit 1 tid ${t1} ctx -3`,
      `start 0 tid ${t2}`, `run 2 tid ${t2}`, `exit 2 tid ${t2} ctx -3`,
      `start 0 tid ${t3}`, `run 3 tid ${t3}`, 'ready', 'returned 0']);
    await p.kill9();

    const r = job.restart();
    assert.equal(await r.waitExit(30000), 0, r.tail());
    const tid = (k: number) => r.lines.find((l) => l.startsWith(`run ${k} `))?.split(' ')[3];
    const [t4, t5] = [tid(4), tid(5)];
    assert.match(r.lines.join('\n'), /^returned 1\nexit 3 tid \d+ ctx -3\n/);
    assert.deepEqual(r.lines.slice(2), [`start 0 tid ${t4}`, `run 4 tid ${t4}`, `exit 4 tid ${t4} ctx -3`,
      `start 0 tid ${t5}`, `run 5 tid ${t5}`, `exit 5 tid ${t5} ctx -3`, 'done']);   // 5: cancelled
  });

  it('without stasis: no thread event, the program runs to its end', async () => {
    const r = await execa(apiThreads, [], { reject: false });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(r.stdout.split('\n').filter((l) => !l.startsWith('run ')), ['api 0 enabled 0', 'ready', 'returned -1', 'done']);
  });
});

describe('plugin API: STASIS_NEXT()', function () {
  this.timeout(60000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-next-'); });
  afterEach(() => job.cleanup());

  it('a preloaded wrapper reaches libc\'s definition through STASIS_NEXT, before and after a restart', async () => {
    const p = job.launch([apiUname], { env: { LD_PRELOAD: wrapUname } });
    const [, , name] = await p.waitFor(/^node (\d+) (.*)$/);
    assert.equal(name, `wrapped-${hostname()}`);
    await p.waitFor(/^node 3 /);
    await job.checkpoint();
    await job.killTree(p);
    const r = job.restart();
    await r.waitFor(/^node \d+ /);
    const after = await r.waitFor(/^node \d+ (.*)$/, 20000, 1);
    assert.equal(after[1], `wrapped-${hostname()}`);
    await job.killTree(r);
  });
});
