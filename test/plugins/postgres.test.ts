// examples/plugins/pg_reconnect against a real PostgreSQL server (Debian's
// postgresql, its own data directory, a Unix socket in a fresh directory):
// a client inserting rows in a loop is checkpointed, killed, the server
// restarted (new backend pids), the client restarted: it goes on inserting
// and no row is lost or doubled; the backend keeps its virtual id.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job, noBroken, repoRoot, type Running } from '../helpers/stasis.js';

const client = join(repoRoot, 'native', 'build', 'examples', 'pg_insert_loop');

/** The newest installed server's bin directory, or null. */
function postgresBin(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(base, versions[0]!, 'bin') : null;
}

/** A server of its own: the data directory and socket in a temp dir, run as `postgres` when we are root. */
class Server {
  readonly dir = mkdtempSync(join(tmpdir(), 'stasis-pg-'));
  readonly port = 20000 + Math.floor(Math.random() * 40000);
  constructor(private readonly bin: string) {}
  private run(tool: string, args: string[]) {
    const asPostgres = process.getuid?.() === 0;
    const [cmd, argv] = asPostgres ? ['runuser', ['-u', 'postgres', '--', join(this.bin, tool), ...args]] : [join(this.bin, tool), args];
    return execa(cmd, argv, { reject: false, stdin: 'ignore' });
  }
  get conninfo(): string { return `host=${this.dir} port=${this.port} user=postgres dbname=postgres`; }
  async init(): Promise<void> {
    if (process.getuid?.() === 0) chownSync(this.dir, Number((await execa('id', ['-u', 'postgres'])).stdout), Number((await execa('id', ['-g', 'postgres'])).stdout));
    const r = await this.run('initdb', ['-D', join(this.dir, 'data'), '-A', 'trust', '-U', 'postgres']);
    assert.equal(r.exitCode, 0, r.stderr);
  }
  async ctl(action: 'start' | 'restart' | 'stop'): Promise<void> {
    const r = await this.run('pg_ctl', ['-D', join(this.dir, 'data'), '-w', '-m', 'fast', '-l', join(this.dir, 'log'),
      '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=''`, action]);
    assert.equal(r.exitCode, 0, `pg_ctl ${action}: ${r.stdout} ${r.stderr}`);
  }
  async query(sql: string): Promise<string> {
    const r = await execa(join(this.bin, 'psql'), [this.conninfo, '-Atc', sql], { reject: false });
    assert.equal(r.exitCode, 0, r.stderr);
    return r.stdout;
  }
  async cleanup(): Promise<void> {
    await this.run('pg_ctl', ['-D', join(this.dir, 'data'), '-m', 'immediate', 'stop']).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const inserted = (p: Running) => p.lines.map((l) => l.match(/^inserted (\d+) backend (\d+) virtual (\d+)$/)).filter((m) => m)
  .map((m) => ({ id: Number(m![1]), backend: Number(m![2]), virtual: Number(m![3]) }));

describe('example: a PostgreSQL client across checkpoints and restarts', function () {
  this.timeout(180000);
  const bin = postgresBin();
  let server: Server;
  let job: Job;
  before(function () { if (!bin || !existsSync(client)) this.skip(); });
  beforeEach(async () => {
    server = new Server(bin!);
    job = new Job('stasis-pgjob-');
    await server.init();
    await server.ctl('start');
  });
  afterEach(async () => { await job.cleanup(); await server.cleanup(); });

  it('reconnects after each checkpoint and after a restart against a restarted server; no row lost or doubled', async () => {
    const p = job.launch([client, server.conninfo]);
    await p.waitFor(/^inserted 20 /);
    // A forked checkpoint returns once its images are written, the client
    // inserting on meanwhile: the cut lies between these two rows.
    const asked = inserted(p).at(-1)!;
    await job.checkpoint();
    const before = inserted(p);
    const atCheckpoint = before.at(-1)!;
    // Reconnected in the same process (a new backend), and going on.
    await p.waitFor(new RegExp(`^inserted ${atCheckpoint.id + 20} `));
    assert.ok(inserted(p).some((r) => r.backend !== before[0]!.backend), 'no new connection after the checkpoint');
    await job.killTree(p);
    const lastBeforeKill = inserted(p).at(-1)!.id;
    const oldBackends = new Set(inserted(p).map((r) => r.backend));

    await server.ctl('restart');
    const r = job.restart();
    await r.waitFor(new RegExp(`^inserted ${lastBeforeKill + 20} `), 30000);
    const after = inserted(r);
    assert.ok(after[0]!.id > asked.id - 5 && after[0]!.id <= atCheckpoint.id + 30, `restored at row ${after[0]!.id}, checkpoint asked at ${asked.id}, returned at ${atCheckpoint.id}`);
    assert.ok(after.every((row) => !oldBackends.has(row.backend)), 'a backend of the old server in the restored process');
    // A checkpoint of the restored process: it reconnects again and goes on.
    await job.checkpoint();
    const n = inserted(r).at(-1)!.id;
    await r.waitFor(new RegExp(`^inserted ${n + 20} `));
    await job.killTree(r);

    // The backend as a virtual id (stasis_vid_*): one number throughout.
    const all = [...inserted(p), ...inserted(r)];
    assert.deepEqual([...new Set(all.map((row) => row.virtual))], [1], 'the virtual backend id changed');
    assert.ok(new Set(all.map((row) => row.backend)).size >= 4, 'fewer real backends than connections');
    noBroken([...p.lines, ...r.lines]);
    const last = inserted(r).at(-1)!.id;
    const [count, distinct, min, max] = (await server.query('SELECT count(*), count(DISTINCT id), min(id), max(id) FROM rows')).split('|').map(Number);
    assert.equal(min, 0);
    assert.ok(max! >= last, `row ${last} was reported inserted but the table ends at ${max}`);
    assert.equal(count, max! + 1, `${count} rows for ids 0..${max}: some lost`);
    assert.equal(distinct, count, 'rows doubled');
  });
});
