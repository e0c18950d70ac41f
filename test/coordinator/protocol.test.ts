// docs/protocol.md: argument encoding, and authentication over real sockets
// against a real `stasis coordinator` process.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { continuedLines, decodeArg, encodeArg, joinContinued, listLines, MAX_LINE } from '../../src/coordinator/protocol.js';
import { Coordinator } from '../../src/coordinator/server.js';
import { killPid, LineClient, pidAlive, sleep, startCoordinator } from './util.js';

describe('protocol: argument encoding', () => {
  const samples = [
    '', 'plain', 'with space', '100%', '%41 is not A', '/path/to/ckpt dir/gen-000001',
    'ünïcødé — 日本語 🚀', 'line\nbreak', 'tab\there', 'cr\r\n', '\x00nul\x01\x7f', 'a+b=c,d@e:f~g_h.i-j',
    '{"json":"x y","n":1}', '%%%', '%zz', '%4',
  ];
  for (const s of samples) {
    it(`round-trips ${JSON.stringify(s)}`, () => {
      const e = encodeArg(s);
      assert.match(e, /^[A-Za-z0-9\-._~/:,=+@%]*$/, `encoded form has unsafe bytes: ${e}`);
      assert.ok(!/[ \n\r\t]/.test(e));
      assert.equal(decodeArg(e), s);
    });
  }

  it('leaves the safe set alone and encodes the rest as %XX (upper case, per UTF-8 byte)', () => {
    assert.equal(encodeArg('A-z0._~/:,=+@'), 'A-z0._~/:,=+@');
    assert.equal(encodeArg('a b%'), 'a%20b%25');
    assert.equal(encodeArg('é'), '%C3%A9');
    assert.equal(encodeArg('\n'), '%0A');
    assert.equal(decodeArg('%c3%a9'), 'é', 'lower-case hex is accepted');
  });
});

describe('protocol: lists longer than a line', () => {
  it('a pid table of 20 000 processes is split over PIDS lines of at most 64 KiB that add up to it', () => {
    const items = Array.from({ length: 20000 }, (_, i) => `${4194303 - i}=${1000000 + i}`);
    const lines = listLines('PIDS', items);
    assert.ok(lines.length > 1, 'one line holds it all');
    for (const l of lines) {
      assert.ok(l.length + 1 <= MAX_LINE, `a line of ${l.length} bytes`);
      assert.match(l, /^PIDS \d+=\d+(,\d+=\d+)*$/);
    }
    assert.deepEqual(lines.flatMap((l) => l.slice(5).split(',')), items);
  });

  it('a short table is one line, an empty one none', () => {
    assert.deepEqual(listLines('PIDS', ['1=2', '3=4']), ['PIDS 1=2,3=4']);
    assert.deepEqual(listLines('PIDS', []), []);
  });
});

describe('protocol: authentication (real coordinator process)', function () {
  this.timeout(60000);
  let dir = '';
  let coord: Awaited<ReturnType<typeof startCoordinator>> | null = null;
  const clients: LineClient[] = [];
  const open = async () => { const c = await LineClient.open(coord!.port); clients.push(c); return c; };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'stasis-proto-'));
    coord = await startCoordinator(dir);
  });
  after(async () => {
    clients.forEach((c) => c.destroy());
    killPid(coord?.pid);
    await coord?.run.waitExit().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a client sending garbage first gets DENIED and is closed', async () => {
    const c = await open();
    c.send('GET / HTTP/1.0\r\n\r\n');
    assert.equal(await c.line(), `DENIED ${encodeArg('expected HELLO')}`);
    await c.waitClosed();
  });

  it('a wrong token gets DENIED and is closed', async () => {
    const c = await open();
    c.send(`HELLO 1 ${'0'.repeat(64)} cmd\n`);
    const l = await c.line();
    assert.match(l, /^DENIED /);
    assert.match(decodeArg(l.slice(7)), /token/);
    await c.waitClosed();
  });

  it('a wrong protocol version gets DENIED', async () => {
    const c = await open();
    c.send(`HELLO 2 ${coord!.token} cmd\n`);
    assert.match(await c.line(), /^DENIED /);
    await c.waitClosed();
  });

  it('after DENIED nothing more is read: a right token and QUIT on the same connection do nothing', async () => {
    const c = await open();
    c.send(`HELLO 1 bad cmd\nHELLO 1 ${coord!.token} cmd\nQUIT\n`);
    assert.match(await c.line(), /^DENIED /);
    await c.waitClosed();
    assert.deepEqual(c.lines, [], 'the coordinator answered after DENIED');
    await sleep(500);
    assert.ok(pidAlive(coord!.pid), 'a denied connection made the coordinator quit');
    const ok = await open();
    ok.send(`HELLO 1 ${coord!.token} cmd\nSTATUS\n`);
    assert.match(await ok.line(), /^WELCOME /);
    assert.match(await ok.line(), /^STATUS /);
  });

  it('a malformed HELLO (neither proc nor cmd) gets DENIED', async () => {
    const c = await open();
    c.send(`HELLO 1 ${coord!.token} whatever\n`);
    assert.equal(await c.line(), `DENIED ${encodeArg('malformed HELLO')}`);
    await c.waitClosed();
  });

  it('the right token gets WELCOME with the ckpt dir, then commands are answered', async () => {
    const c = await open();
    c.send(`HELLO 1 ${coord!.token} cmd\n`);
    const w = (await c.line()).split(' ');
    assert.equal(w[0], 'WELCOME');
    assert.equal(decodeArg(w[2]!), dir);
    c.send('STATUS\nINTERVAL nope\nINTERVAL 1.5\nFROB\n');
    const status = JSON.parse(decodeArg((await c.line()).slice(7))) as { processes: number; state: string };
    assert.equal(status.processes, 0);
    assert.equal(status.state, 'running');
    assert.match(decodeArg(await c.line()), /^ERROR bad interval 'nope': want whole seconds$/);
    assert.match(decodeArg(await c.line()), /^ERROR bad interval '1.5': want whole seconds$/);
    assert.match(decodeArg(await c.line()), /^ERROR unknown command 'FROB'$/);
    c.send('CHECKPOINT\n');
    assert.match(decodeArg(await c.line()), /^ERROR no processes to checkpoint$/);
    assert.ok(!c.closed);
  });
});

describe('protocol: a client that says nothing', function () {
  this.timeout(30000);
  it('is DENIED and dropped after the HELLO timeout (10 s by default; 300 ms here)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stasis-proto-'));
    const coord = new Coordinator({
      ckptDir: dir, token: 'x'.repeat(64), host: '127.0.0.1', port: 0, interval: 0, keep: 0, expect: 0,
      exitWhenIdle: false, timeoutMs: 5000, helloTimeoutMs: 300, job: { rm: 'local', id: null }, log: () => undefined,
    });
    let c: LineClient | null = null;
    try {
      await coord.listen();
      c = await LineClient.open(coord.address.port);
      const t0 = Date.now();
      const l = await c.line(5000);
      assert.match(l, /^DENIED /);
      assert.match(decodeArg(l.slice(7)), /no HELLO/);
      await c.waitClosed();
      assert.ok(Date.now() - t0 >= 250, 'dropped before the timeout');
    } finally {
      c?.destroy();
      coord.shutdown('test over');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('protocol: releasing restored processes', function () {
  this.timeout(30000);
  it('PIDS, then ALL_RESTORED, and RESUME 0 only once every process answered READY', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stasis-proto-'));
    const token = 'y'.repeat(64);
    const coord = new Coordinator({
      ckptDir: dir, token, host: '127.0.0.1', port: 0, interval: 0, keep: 0, expect: 2,
      exitWhenIdle: false, timeoutMs: 5000, job: { rm: 'local', id: null }, log: () => undefined,
    });
    const clients: LineClient[] = [];
    try {
      await coord.listen();
      for (const [pid, kernel] of [[100, 200], [101, 201]]) {
        const c = await LineClient.open(coord.address.port);
        clients.push(c);
        c.send(`HELLO 1 ${token} proc ${pid} node1 prog 1 ${encodeArg(`/x/${pid}.img`)} ${kernel}\n`);
        assert.match(await c.line(), /^WELCOME /);
      }
      for (const c of clients) {
        assert.equal(await c.line(), 'PIDS 100=200,101=201');
        assert.equal(await c.line(), 'ALL_RESTORED');
      }
      clients[0]!.send('READY\n');
      await sleep(300);
      assert.deepEqual(clients.map((c) => c.lines), [[], []], 'RESUME went out before every process was READY');
      clients[1]!.send('READY\n');
      for (const c of clients) assert.equal(await c.line(), 'RESUME 0');
    } finally {
      clients.forEach((c) => c.destroy());
      coord.shutdown('test over');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('protocol: one process per (origin, pid)', function () {
  this.timeout(30000);
  it('a second process claiming a joined (origin, pid) is DENIED at HELLO naming both; the same pid of another origin, and the same kernel process (its image after exec), join', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stasis-proto-'));
    const token = 'z'.repeat(64);
    const coord = new Coordinator({
      ckptDir: dir, token, host: '127.0.0.1', port: 0, interval: 0, keep: 0, expect: 0,
      exitWhenIdle: false, timeoutMs: 5000, job: { rm: 'local', id: null }, log: () => undefined,
    });
    const clients: LineClient[] = [];
    const hello = async (pid: number, host: string, kernel: number, origin: string) => {
      const c = await LineClient.open(coord.address.port);
      clients.push(c);
      c.send(`HELLO 1 ${token} proc ${pid} ${host} prog 0 - ${kernel} ${origin}\n`);
      return c;
    };
    const welcomed = async (c: LineClient) => {
      for (let l = await c.line(); !l.startsWith('WELCOME '); l = await c.line()) assert.match(l, /^PIDS /);
    };
    try {
      await coord.listen();
      await welcomed(await hello(100, 'n2', 100, 'n2'));
      const twin = await hello(100, 'n4', 555, 'n2');
      const l = await twin.line();
      assert.match(l, /^DENIED /);
      assert.equal(decodeArg(l.slice(7)), 'process 100 of origin n2 has already joined (process 100 (prog) on n2, kernel pid 100)');
      await twin.waitClosed();
      await welcomed(await hello(100, 'n3', 100, 'n3'));
      await welcomed(await hello(100, 'n2', 100, 'n2'));
    } finally {
      clients.forEach((c) => c.destroy());
      coord.shutdown('test over');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('protocol: a CONNS or DRAIN list longer than a line', () => {
  it('is sent as VERB+ lines then VERB, each within 64 KiB, and joined back into one list', () => {
    const items = Array.from({ length: 6000 }, (_, i) => `${1000000 + i}/10.0.0.${i % 250}/${40000 + i}/10.0.1.7/${5000 + i}/0`);
    const lines = continuedLines('CONNS', items);
    assert.ok(lines.length > 1);
    for (const l of lines.slice(0, -1)) assert.match(l, /^CONNS\+ /);
    assert.match(lines.at(-1)!, /^CONNS \d/);
    for (const l of lines) assert.ok(l.length + 1 <= MAX_LINE);
    const lists = lines.slice(0, -1).map((l) => l.slice('CONNS+ '.length));
    assert.equal(joinContinued('CONNS', lists, lines.at(-1)!), `CONNS ${items.join(',')}`);
    assert.deepEqual(continuedLines('DRAIN', []), ['DRAIN']);
    assert.deepEqual(continuedLines('DRAIN', ['1/0', '2/1']), ['DRAIN 1/0,2/1']);
    assert.equal(joinContinued('CONNS', ['1/a', '2/b'], 'CONNS'), 'CONNS 1/a,2/b');
    assert.equal(joinContinued('CONNS', ['1/a'], 'FAILED why'), 'FAILED why', 'a failure after some lines is the answer');
  });
});
