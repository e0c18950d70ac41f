// The barrier rounds of a forked checkpoint (docs/protocol.md) as processes
// see them, against a real `stasis coordinator --forked`: clients speaking
// the process protocol record every line they get. The program's pause is
// from SUSPEND until it runs on, so rounds are left out where nothing
// needs them: no CONNS when every process is on one host (nothing pairs
// across hosts), and the only process of a generation runs on right after
// its fork (SAVE … fork-run), no CONTINUE round trip.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeArg } from '../../src/coordinator/protocol.js';
import { killPid, LineClient, startCoordinator, waitUntil } from './util.js';

/** A process client: answers each barrier like libstasis, the image written by a "copy" 100 ms later. */
class FakeProc {
  readonly got: string[] = [];
  private constructor(readonly c: LineClient) {}

  static async join(port: number, token: string, pid: number, host: string): Promise<FakeProc> {
    const c = await LineClient.open(port);
    c.send(`HELLO 1 ${token} proc ${pid} ${host} fake 0 - ${process.pid} ${host}\n`);
    assert.match(await c.line(), /^WELCOME /);
    const p = new FakeProc(c);
    void p.serve();
    return p;
  }

  private async serve(): Promise<void> {
    for (;;) {
      let line: string;
      try { line = await this.c.line(600000); } catch { return; }
      this.got.push(line.replace(/^SAVE \S+/, 'SAVE <path>').replace(/^DRAIN .*/, 'DRAIN <far>'));
      if (line.startsWith('SUSPEND ')) this.c.send('SUSPENDED\n');
      else if (line === 'CONNS') this.c.send('CONNS\n');
      else if (line.startsWith('DRAIN')) this.c.send('DRAINED\n');
      else if (line.startsWith('SAVE ')) {
        const [, path, mode] = line.split(' ');
        writeFileSync(decodeArg(path!), '');
        if (mode?.startsWith('fork')) {
          this.c.send('SAVING\n');
          setTimeout(() => this.c.send('SAVED 0 crc32c:00000000 1 1 1\n'), 100);
        } else this.c.send('SAVED 0 crc32c:00000000 1 1 1\n');
      } else if (line.startsWith('RESUME ')) this.c.send('RESUMED\n');
    }
  }
}

describe('forked checkpoint rounds (real coordinator, process clients)', function () {
  this.timeout(60000);
  let dir = '';
  let coord: Awaited<ReturnType<typeof startCoordinator>> | null = null;
  const clients: LineClient[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'stasis-rounds-'));
    coord = await startCoordinator(dir, ['--forked']);
  });
  afterEach(async () => {
    clients.forEach((c) => c.destroy());
    clients.length = 0;
    killPid(coord?.pid);
    await coord?.run.waitExit().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  async function procs(hosts: string[]): Promise<FakeProc[]> {
    const ps: FakeProc[] = [];
    for (const [i, host] of hosts.entries()) {
      const p = await FakeProc.join(coord!.port, coord!.token, 100 + i, host);
      clients.push(p.c);
      ps.push(p);
    }
    return ps;
  }

  async function checkpoint(ps: FakeProc[]): Promise<void> {
    const c = await LineClient.open(coord!.port);
    clients.push(c);
    c.send(`HELLO 1 ${coord!.token} cmd\nCHECKPOINT\n`);
    assert.match(await c.line(), /^WELCOME /);
    const answer = decodeArg(await c.line(30000));
    assert.doesNotMatch(answer, /^ERROR/, answer);
    await waitUntil(() => ps.every((p) => p.got.at(-1)?.startsWith('RESUME ')), 'RESUME to every process');
  }

  it('the only process: no CONNS, SAVE … fork-run, no CONTINUE; the generation commits', async () => {
    const [p] = await procs(['vm']);
    await checkpoint([p!]);
    assert.deepEqual(p!.got, ['SUSPEND 1', 'DRAIN', 'SAVE <path> fork-run', 'RESUME 1']);
  });

  it('two processes on one host: no CONNS; SAVE … fork, then CONTINUE to each once both answered', async () => {
    const ps = await procs(['vm', 'vm']);
    await checkpoint(ps);
    for (const p of ps) assert.deepEqual(p.got, ['SUSPEND 1', 'DRAIN', 'SAVE <path> fork', 'CONTINUE', 'RESUME 1']);
  });

  it('processes on two hosts: CONNS, for the coordinator to pair their connections', async () => {
    const ps = await procs(['n1', 'n2']);
    await checkpoint(ps);
    for (const p of ps) assert.deepEqual(p.got, ['SUSPEND 1', 'CONNS', 'DRAIN', 'SAVE <path> fork', 'CONTINUE', 'RESUME 1']);
  });
});

