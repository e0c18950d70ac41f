// The DMTCP flag table (src/cli/dmtcp/flags.ts): what each dmtcp_* command
// line becomes, which flags are refused or ignored, and the DMTCP_* variables.
import assert from 'node:assert/strict';
import { DmtcpUsage, dmtcpImageArgument, parseCommand, parseCoordinator, parseLaunch, parseRestart } from '../../src/cli/dmtcp/flags.js';

const NOENV = {};
const usage = (f: () => unknown, re: RegExp) => assert.throws(f, (e: unknown) => e instanceof DmtcpUsage && re.test((e as Error).message));

describe('DMTCP flag table', () => {
  it('dmtcp_launch: options up to the program, short and long forms, attached numbers', () => {
    assert.deepEqual(parseLaunch(['-h', 'node1', '-p', '7001', '-i', '60', '--ckptdir', '/s/ck', './app', '-i', '5'], NOENV),
      { ckptDir: '/s/ck', host: 'node1', port: 7001, mode: 'any', interval: 60, program: ['./app', '-i', '5'] });
    assert.deepEqual(parseLaunch(['--coord-host=n2', '--coord-port=0', '-i5', '--any-coordinator', 'mpirun', '-np', '4', 'x'], NOENV),
      { ckptDir: 'stasis-ckpt', host: 'n2', port: 0, mode: 'any', interval: 5, program: ['mpirun', '-np', '4', 'x'] });
    assert.deepEqual(parseLaunch(['-p0', '--port', '12', '--new-coordinator', '-c', 'D', '--', '-weird'], NOENV),
      { ckptDir: 'D', port: 12, mode: 'new', program: ['-weird'] });
    assert.equal(parseLaunch(['-j', 'a'], NOENV).mode, 'join');
    assert.equal(parseLaunch(['--no-gzip', 'a'], NOENV).compress, 'none');
    assert.equal(parseLaunch(['--gzip', 'a'], NOENV).compress, 'zstd');
  });

  it('dmtcp_launch: DMTCP_* variables, the flags winning', () => {
    const env = { DMTCP_COORD_HOST: 'h', DMTCP_COORD_PORT: '7779', DMTCP_CHECKPOINT_DIR: '/ck', DMTCP_CHECKPOINT_INTERVAL: '30', DMTCP_GZIP: '0' };
    assert.deepEqual(parseLaunch(['a'], env), { ckptDir: '/ck', host: 'h', port: 7779, mode: 'any', interval: 30, compress: 'none', program: ['a'] });
    assert.deepEqual(parseLaunch(['-p', '1', '-c', '/x', '-i', '2', '--gzip', 'a'], env),
      { ckptDir: '/x', host: 'h', port: 1, mode: 'any', interval: 2, compress: 'zstd', program: ['a'] });
    assert.equal(parseLaunch(['a'], { DMTCP_PORT: '9' }).port, 9, 'the deprecated DMTCP_PORT');
    assert.equal(parseLaunch(['a'], { STASIS_CKPT_DIR: '/st' }).ckptDir, '/st');
    usage(() => parseLaunch(['a'], { DMTCP_COORD_PORT: 'x' }), /^DMTCP_COORD_PORT='x': want a whole number$/);
  });

  it('dmtcp_launch: ignored flags, refused ones, unknown ones, bad values', () => {
    assert.deepEqual(parseLaunch(['--rm', '--batch-queue', '-q', '--mpi', '--tmpdir', '/t', '--ckpt-open-files', 'a'], NOENV).program, ['a']);
    usage(() => parseLaunch(['--ptrace', 'a'], NOENV), /^--ptrace: /);
    usage(() => parseLaunch(['--with-plugin', 'x.so', 'a'], NOENV), /^--with-plugin: /);
    usage(() => parseLaunch(['--port-file', 'f', 'a'], NOENV), /^--port-file: not supported here/);
    usage(() => parseLaunch(['--frobnicate', 'a'], NOENV), /^unknown option --frobnicate \(see dmtcp_launch --help\)$/);
    usage(() => parseLaunch(['-i', 'ten', 'a'], NOENV), /^-i 'ten': want a whole number$/);
    usage(() => parseLaunch(['-p'], NOENV), /^-p needs a value$/);
    usage(() => parseLaunch(['-i', '5'], NOENV), /^give the program to run/);
    usage(() => parseLaunch(['-j', '--new-coordinator', 'a'], NOENV), /^give at most one of/);
    usage(() => parseLaunch(['-j', '-i', '5', 'a'], NOENV), /cannot go with -j/);
    usage(() => parseLaunch(['--gzip', '--no-gzip', 'a'], NOENV), /not both/);
  });

  it('dmtcp_restart: a directory, --restartdir, the ckpt dir; DMTCP images and scripts refused with a pointer', () => {
    assert.deepEqual(parseRestart(['-i', '9', '/ck'], NOENV), { ckptDir: 'stasis-ckpt', target: '/ck', interval: 9 });
    assert.equal(parseRestart(['--restartdir', '/r'], NOENV).target, '/r');
    assert.equal(parseRestart([], { DMTCP_CHECKPOINT_DIR: '/d' }).target, '/d');
    assert.equal(parseRestart(['-h', 'x', '-p', '1', '--no-strict-checking', '/ck/gen-000002'], NOENV).target, '/ck/gen-000002');
    for (const arg of ['ckpt_a.out_66b5-40000-5d1e.dmtcp', '/s/ckpt_rank_0/ckpt_x.dmtcp.gz', './dmtcp_restart_script.sh', 'dmtcp_restart_script_66b5.sh'])
      usage(() => parseRestart([arg], NOENV), /use stasis restart D \(or dmtcp_restart D\)$/);
    assert.equal(dmtcpImageArgument('/scratch/ckpt-dir'), null);
    usage(() => parseRestart(['-j', '/ck'], NOENV), /runs its own coordinator/);
    usage(() => parseRestart(['/a', '/b'], NOENV), /one checkpoint directory/);
  });

  it('dmtcp_command: DMTCP command words with or without dashes, one at a time', () => {
    const verb = (...a: string[]) => { const p = parseCommand(a, NOENV); return [p.verb, p.interval, p.blocking]; };
    assert.deepEqual(verb('-bc'), ['checkpoint', undefined, true]);
    assert.deepEqual(verb('--bcheckpoint'), ['checkpoint', undefined, true]);
    assert.deepEqual(verb('-c'), ['checkpoint', undefined, false]);
    assert.deepEqual(verb('c'), ['checkpoint', undefined, false]);
    assert.deepEqual(verb('--status'), ['status', undefined, false]);
    assert.deepEqual(verb('s'), ['status', undefined, false]);
    assert.deepEqual(verb('-l'), ['list', undefined, false]);
    assert.deepEqual(verb('-i', '30'), ['interval', 30, false]);
    assert.deepEqual(verb('-i30'), ['interval', 30, false]);
    assert.deepEqual(verb('--interval', '0'), ['interval', 0, false]);
    assert.deepEqual(verb('-k'), ['kill', undefined, false]);
    assert.deepEqual(verb('--quit'), ['quit', undefined, false]);
    const p = parseCommand(['-h', 'n1', '-p', '7001', '-s'], { DMTCP_CHECKPOINT_DIR: '/ck' });
    assert.deepEqual({ host: p.host, port: p.port, ckptDir: p.ckptDir }, { host: 'n1', port: 7001, ckptDir: '/ck' });
    assert.equal(parseCommand(['-p7002', '-q'], NOENV).port, 7002);
    assert.equal(parseCommand(['-q'], { DMTCP_COORD_PORT: '5' }).port, 5);
    usage(() => parseCommand([], NOENV), /^give a command/);
    usage(() => parseCommand(['-c', '-k'], NOENV), /^give one command, not -c -k$/);
    usage(() => parseCommand(['-i', 'x'], NOENV), /needs a whole number/);
    usage(() => parseCommand(['-x'], NOENV), /^unknown option -x/);
    usage(() => parseCommand(['frob'], NOENV), /^unknown command frob/);
  });

  it('dmtcp_coordinator: port by flag, operand or variable (DMTCP default 7779), and its own flags', () => {
    const base = { ckptDir: 'stasis-ckpt', exitOnLast: false, daemon: false };
    assert.deepEqual(parseCoordinator([], NOENV), { ...base, port: 7779 });
    assert.deepEqual(parseCoordinator(['7001'], NOENV), { ...base, port: 7001 });
    assert.deepEqual(parseCoordinator(['-p0', '--port-file', 'pf', '--exit-on-last', '--daemon', '-i', '60', '--coord-logfile', 'l', '-q'], NOENV),
      { ...base, port: 0, portFile: 'pf', exitOnLast: true, daemon: true, interval: 60, logFile: 'l' });
    assert.deepEqual(parseCoordinator(['--ckptdir', '/ck'], { DMTCP_COORD_PORT: '8', DMTCP_COORD_HOST: 'n1' }),
      { ...base, ckptDir: '/ck', port: 8, listenHost: 'n1' });
    usage(() => parseCoordinator(['70000'], NOENV), /want 0 to 65535/);
    usage(() => parseCoordinator(['abc'], NOENV), /unexpected argument abc/);
    usage(() => parseCoordinator(['--timeout', '5'], NOENV), /^--timeout: not supported/);
    usage(() => parseCoordinator(['-h'], NOENV), /^unknown option -h/);
  });
});
