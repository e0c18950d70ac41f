// The coordinator as name service for restart loaders (PUBLISH/LOOKUP,
// docs/protocol.md), against a real `stasis coordinator`; and how CONNS
// answers pair connections across hosts (src/coordinator/conns.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pairAcrossHosts, parseConns } from '../../src/coordinator/conns.js';
import { encodeArg } from '../../src/coordinator/protocol.js';
import { killPid, LineClient, startCoordinator } from './util.js';

describe('coordinator name service: PUBLISH and LOOKUP', function () {
  this.timeout(30000);
  const dir = mkdtempSync(join(tmpdir(), 'stasis-names-'));
  let coord: Awaited<ReturnType<typeof startCoordinator>> | null = null;
  const clients: LineClient[] = [];
  const open = async () => {
    const c = await LineClient.open(coord!.port);
    clients.push(c);
    c.send(`HELLO 1 ${coord!.token} cmd\n`);
    assert.match(await c.line(), /^WELCOME 0 /);
    return c;
  };

  before(async () => { coord = await startCoordinator(dir); });
  after(async () => {
    clients.forEach((c) => c.destroy());
    killPid(coord?.pid);
    await coord?.run.waitExit().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a LOOKUP waits for the PUBLISH; a name is taken by its one LOOKUP', async () => {
    const key = `10.0.0.1:5000-10.0.0.2:${encodeArg('[')}x`;
    const looker = await open(), publisher = await open();
    looker.send(`LOOKUP ${key} 10\n`);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(looker.lines.length, 0, 'answered before the PUBLISH');
    publisher.send(`PUBLISH ${key} 10.0.0.9 41000\n`);
    assert.equal(await publisher.line(), 'OK');
    assert.equal(await looker.line(), 'FOUND 10.0.0.9 41000');
    // Published first, looked up after: found at once; then gone.
    publisher.send(`PUBLISH ${key} 10.0.0.9 41001\n`);
    assert.equal(await publisher.line(), 'OK');
    looker.send(`LOOKUP ${key} 10\n`);
    assert.equal(await looker.line(), 'FOUND 10.0.0.9 41001');
    looker.send(`LOOKUP ${key} 1\n`);
    assert.match(await looker.line(3000), /^ERROR nobody%20published%20.*%20within%201%20s$/);
    // Published twice before a LOOKUP: the later one is found, and the log says so (two loaders claim one end).
    for (const port of [41002, 41003]) {
      publisher.send(`PUBLISH ${key} 10.0.0.9 ${port}\n`);
      assert.equal(await publisher.line(), 'OK');
    }
    looker.send(`LOOKUP ${key} 10\n`);
    assert.equal(await looker.line(), 'FOUND 10.0.0.9 41003');
    await new Promise((r) => setTimeout(r, 200));   // the foreground coordinator's log: its output
    const log = [...coord!.run.lines, ...coord!.run.errLines].join('\n');
    assert.match(log, /looked up 10\.0\.0\.1:5000-10\.0\.0\.2:\[x: nobody published it within 1 s/);
    assert.match(log, /10\.0\.0\.1:5000-10\.0\.0\.2:\[x published twice \(now 10\.0\.0\.9:41003\)/);
  });

  it('bad arguments: one ERROR line each, and the connection serves on', async () => {
    const c = await open();
    for (const bad of ['PUBLISH k 10.0.0.1', 'PUBLISH k 10.0.0.1 port', 'LOOKUP k', 'LOOKUP k soon']) {
      c.send(`${bad}\n`);
      assert.match(await c.line(), /^ERROR bad%20(PUBLISH|LOOKUP)/, bad);
    }
    c.send('STATUS\n');
    assert.match(await c.line(), /^STATUS /);
  });
});

describe('CONNS: pairing the ends of TCP connections across hosts', () => {
  const item = (s: string) => encodeArg(s);
  it('pairs A.local = B.peer and the reverse on two hosts (half when either end is); not on one host, not loopback, not a lone end', () => {
    const a = parseConns(`CONNS ${item('11/10.0.0.2/40000/10.0.0.3/5000/0')},${item('12/127.0.0.1/40001/127.0.0.1/6000/0')},${item('13/10.0.0.2/40002/10.0.0.9/80/1')}`);
    const b = parseConns(`CONNS ${item('21/10.0.0.3/5000/10.0.0.2/40000/0')},${item('22/127.0.0.1/6000/127.0.0.1/40001/0')}`);
    const sameHost = parseConns(`CONNS ${item('31/10.0.0.3/5000/10.0.0.2/40000/0')}`);
    const v6 = parseConns(`CONNS ${item('41/fd00::2/7000/fd00::3/7001/0')}`);
    const v6peer = parseConns(`CONNS ${item('51/fd00::3/7001/fd00::2/7000/1')}`);
    assert.deepEqual(parseConns('CONNS'), []);
    assert.deepEqual(pairAcrossHosts([
      { host: 'n2', ends: a }, { host: 'n3', ends: b }, { host: 'n2', ends: sameHost }, { host: 'n4', ends: v6 }, { host: 'n1', ends: v6peer },
    ]), [['11/0'], ['21/0'], [], ['41/1'], ['51/1']]);   // 31: its peer's end is on its own host
    // The same two ends on one host only: no pair (sock_diag would have found it there).
    assert.deepEqual(pairAcrossHosts([{ host: 'n2', ends: a }, { host: 'n2', ends: b }]), [[], []]);
    assert.throws(() => parseConns(`CONNS ${item('x/10.0.0.2/1/10.0.0.3/2/0')}`), /malformed CONNS item/);
    assert.throws(() => parseConns(`CONNS ${item('1/10.0.0.2/1/10.0.0.3/2')}`), /malformed CONNS item/);
  });
});
