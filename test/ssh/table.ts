// The command lines both parsers (src/ssh, native/plugins/ssh) must read
// as OpenSSH, rsh and srun do: argv.test.ts checks the TypeScript one
// against `expect`, native-agree.test.ts the C one against the TypeScript.
import type { RemoteParse } from '../../src/ssh/argv.js';
import type { SrunParse } from '../../src/ssh/srun.js';

export interface Row { tool: 'ssh' | 'rsh' | 'srun'; argv: string[]; expect: RemoteParse | SrunParse }

const words = (s: string) => s.split(' ');

function remote(user: string | null, host: string, port: string | null, options: string[], command: string[], stdinNull = false): RemoteParse {
  return { kind: 'remote', user, host, port, options, stdinNull, command };
}
const pass = (reason: string) => ({ kind: 'pass', reason } as const);
const step = (options: string[], command: string[]): SrunParse => ({ kind: 'step', options, command });

const ssh = (line: string | string[], expect: RemoteParse): Row =>
  ({ tool: 'ssh', argv: ['ssh', ...(typeof line === 'string' ? words(line) : line)], expect });
const rsh = (line: string | string[], expect: RemoteParse): Row =>
  ({ tool: 'rsh', argv: ['rsh', ...(typeof line === 'string' ? words(line) : line)], expect });
const srun = (line: string | string[], expect: SrunParse): Row =>
  ({ tool: 'srun', argv: ['srun', ...(typeof line === 'string' ? words(line) : line)], expect });

export const table: Row[] = [
  // destination and command
  ssh('n2 ./worker', remote(null, 'n2', null, [], ['./worker'])),
  ssh('n2 ./worker a b', remote(null, 'n2', null, [], ['./worker', 'a', 'b'])),
  ssh(['n2', 'echo a; echo b'], remote(null, 'n2', null, [], ['echo a; echo b'])),
  ssh('alice@n2 hostname', remote('alice', 'n2', null, [], ['hostname'])),
  ssh('a@b@n2 hostname', remote('a@b', 'n2', null, [], ['hostname'])),
  ssh('@n2 hostname', pass('no user before @ in @n2')),
  ssh('n2', pass('no remote command (a login shell)')),
  ssh('', pass('no destination')),
  ssh([], pass('no destination')),
  ssh('-v', pass('no destination')),
  ssh('- ls', remote(null, '-', null, [], ['ls'])),
  // the command's own options are not ssh's
  ssh('n2 ls -l', remote(null, 'n2', null, [], ['ls', '-l'])),
  ssh('n2 -- ls -l', remote(null, 'n2', null, [], ['ls', '-l'])),
  ssh('-- n2 -l x', remote(null, 'n2', null, [], ['-l', 'x'])),
  ssh('n2 -l bob ls', remote('bob', 'n2', null, [], ['ls'])),
  ssh('n2 -p 2222 -v ls -p', remote(null, 'n2', '2222', ['-v'], ['ls', '-p'])),
  ssh('n2 -t', pass('no remote command (a login shell)')),
  // user and port: the first one given wins
  ssh('-l bob n2 ls', remote('bob', 'n2', null, [], ['ls'])),
  ssh('-lbob n2 ls', remote('bob', 'n2', null, [], ['ls'])),
  ssh('-l bob alice@n2 ls', remote('bob', 'n2', null, [], ['ls'])),
  ssh('alice@n2 -l bob ls', remote('alice', 'n2', null, [], ['ls'])),
  ssh('-l bob -l carol n2 ls', remote('bob', 'n2', null, [], ['ls'])),
  ssh('-p 2222 n2 ls', remote(null, 'n2', '2222', [], ['ls'])),
  ssh('-p2222 n2 ls', remote(null, 'n2', '2222', [], ['ls'])),
  ssh('-p 22 -p 23 n2 ls', remote(null, 'n2', '22', [], ['ls'])),
  ssh('-p ssh n2 ls', remote(null, 'n2', 'ssh', [], ['ls'])),
  ssh('-p 0 n2 ls', pass('bad port 0')),
  ssh('-p 65536 n2 ls', pass('bad port 65536')),
  ssh('-p', pass('-p without its value')),
  // ssh:// URIs
  ssh('ssh://n2 ls', remote(null, 'n2', null, [], ['ls'])),
  ssh('ssh://alice@n2:2222 ls', remote('alice', 'n2', '2222', [], ['ls'])),
  ssh('ssh://alice;fingerprint=x@n2 ls', remote('alice', 'n2', null, [], ['ls'])),
  ssh('ssh://al%20ice@n2/ ls', remote('al ice', 'n2', null, [], ['ls'])),
  ssh('ssh://[::1]:2022 ls', remote(null, '::1', '2022', [], ['ls'])),
  ssh('-p 23 ssh://n2:2222 ls', remote(null, 'n2', '23', [], ['ls'])),
  ssh('-l bob ssh://alice@n2 ls', remote('bob', 'n2', null, [], ['ls'])),
  ssh('ssh://n2/path ls', pass('bad URI ssh://n2/path')),
  ssh('ssh://n2:0 ls', pass('bad URI ssh://n2:0')),
  ssh('ssh://@n2 ls', pass('bad URI ssh://@n2')),
  ssh('ssh:// ls', pass('bad URI ssh://')),
  // flags: combined, dropped (tty), -n
  ssh('-tt n2 top', remote(null, 'n2', null, [], ['top'])),
  ssh('-T n2 ls', remote(null, 'n2', null, [], ['ls'])),
  ssh('-nT n2 ls', remote(null, 'n2', null, [], ['ls'], true)),
  ssh('-n n2 ls', remote(null, 'n2', null, [], ['ls'], true)),
  ssh('-vvv -4 -C n2 ls', remote(null, 'n2', null, ['-v', '-v', '-v', '-4', '-C'], ['ls'])),
  ssh('-qxAk n2 ls', remote(null, 'n2', null, ['-q', '-x', '-A', '-k'], ['ls'])),
  ssh('-Cp2222 n2 ls', remote(null, 'n2', '2222', ['-C'], ['ls'])),
  ssh('-Ci ~/.ssh/id n2 ls', remote(null, 'n2', null, ['-C', '-i', '~/.ssh/id'], ['ls'])),
  ssh('-2 -6 -a -g -K -M -X -Y -y n2 ls', remote(null, 'n2', null, ['-2', '-6', '-a', '-g', '-K', '-M', '-X', '-Y', '-y'], ['ls'])),
  // options with a value, attached or not
  ssh('-o StrictHostKeyChecking=no n2 ls', remote(null, 'n2', null, ['-o', 'StrictHostKeyChecking=no'], ['ls'])),
  ssh('-oStrictHostKeyChecking=no n2 ls', remote(null, 'n2', null, ['-o', 'StrictHostKeyChecking=no'], ['ls'])),
  ssh(['-o', 'BatchMode yes', 'n2', 'ls'], remote(null, 'n2', null, ['-o', 'BatchMode yes'], ['ls'])),
  ssh('-o RequestTTY=force n2 ls', remote(null, 'n2', null, [], ['ls'])),
  ssh('-o RemoteCommand=ls n2', pass('-o remotecommand')),
  ssh(['-o', ' sessiontype none', 'n2', 'ls'], pass('-o sessiontype')),
  ssh('-oForkAfterAuthentication=yes n2 ls', pass('-o forkafterauthentication')),
  ssh('-o StdinNull=yes n2 ls', pass('-o stdinnull')),
  ssh('-F /tmp/cfg -p 2022 127.0.0.1 ./worker', remote(null, '127.0.0.1', '2022', ['-F', '/tmp/cfg'], ['./worker'])),
  ssh('-J jump@gw:22 n2 ls', remote(null, 'n2', null, ['-J', 'jump@gw:22'], ['ls'])),
  ssh('-J gw,gw2 -i key -E log -S none n2 ls', remote(null, 'n2', null, ['-J', 'gw,gw2', '-i', 'key', '-E', 'log', '-S', 'none'], ['ls'])),
  ssh('-L 8080:localhost:80 -R 9090:localhost:90 -D 1080 n2 ls',
    remote(null, 'n2', null, ['-L', '8080:localhost:80', '-R', '9090:localhost:90', '-D', '1080'], ['ls'])),
  ssh('-b 10.0.0.1 -B eth0 -c aes128-ctr -m hmac-sha2-256 -e none -w 0:1 n2 ls',
    remote(null, 'n2', null, ['-b', '10.0.0.1', '-B', 'eth0', '-c', 'aes128-ctr', '-m', 'hmac-sha2-256', '-e', 'none', '-w', '0:1'], ['ls'])),
  ssh('-I pkcs11 -P tag n2 ls', remote(null, 'n2', null, ['-I', 'pkcs11', '-P', 'tag'], ['ls'])),
  ssh('-o', pass('-o without its value')),
  ssh('n2 -o', pass('-o without its value')),
  // modes without a remote command of ours
  ssh('-N -L 80:h:80 n2', pass('no remote command (-N)')),
  ssh('-f n2 ls', pass('background after login (-f)')),
  ssh('-s n2 sftp', pass('subsystem (-s)')),
  ssh('-W h:22 n2', pass('stdio forwarding (-W)')),
  ssh('-O check n2', pass('control command (-O)')),
  ssh('-Q cipher', pass('query (-Q)')),
  ssh('-G n2', pass('prints its configuration (-G)')),
  ssh('-V', pass('prints its version (-V)')),
  ssh('-1 n2 ls', pass('protocol 1')),
  ssh('-Z n2 ls', pass('prints public keys (-Z)')),
  ssh('-H n2 ls', pass('unknown option -H')),
  ssh('-vH n2 ls', pass('unknown option -H')),
  ssh('n2 -U ls', pass('unknown option -U')),

  // rsh (rsh-redone)
  rsh('n2 ls -l', remote(null, 'n2', null, [], ['ls', '-l'])),
  rsh('-l bob n2 ls', remote('bob', 'n2', null, [], ['ls'])),
  rsh('-l bob alice@n2 ls', remote('alice', 'n2', null, [], ['ls'])),
  rsh('a@b@n2 ls', remote('a', 'b@n2', null, [], ['ls'])),
  rsh('-4v -p514 -lbob n2 ls', remote('bob', 'n2', '514', ['-4', '-v'], ['ls'])),
  rsh('-l bob -l carol n2 ls', remote('carol', 'n2', null, [], ['ls'])),
  rsh('n2 -l bob ls', remote(null, 'n2', null, [], ['-l', 'bob', 'ls'])),
  rsh('-- n2 ls', remote(null, 'n2', null, [], ['ls'])),
  rsh('n2', pass('no remote command (rlogin)')),
  rsh('-x n2 ls', pass('unknown option -x')),
  rsh('-l', pass('-l without its value')),
  rsh('', pass('no destination')),

  // srun
  srun('./worker', step([], ['./worker'])),
  srun('-N2 -n2 ./worker a -n 3', step(['-N2', '-n2'], ['./worker', 'a', '-n', '3'])),
  srun('-N 2 -n 2 ./worker', step(['-N', '2', '-n', '2'], ['./worker'])),
  srun('--nodes=2 --ntasks 2 ./worker', step(['--nodes=2', '--ntasks', '2'], ['./worker'])),
  srun('--ntasks-per-node=1 --overlap hostname', step(['--ntasks-per-node=1', '--overlap'], ['hostname'])),
  srun('-lN2 hostname', step(['-lN2'], ['hostname'])),
  srun('-lN 2 hostname', step(['-lN', '2'], ['hostname'])),
  srun('-ul hostname', step(['-ul'], ['hostname'])),
  srun('-w n1,n2 -- ./worker -x', step(['-w', 'n1,n2'], ['./worker', '-x'])),
  srun('-- ./worker', step([], ['./worker'])),
  srun('--bcast ./worker', step(['--bcast'], ['./worker'])),
  srun('--bcast=/tmp/w ./worker', step(['--bcast=/tmp/w'], ['./worker'])),
  srun('-I ./worker', step(['-I'], ['./worker'])),
  srun('-I5 ./worker', step(['-I5'], ['./worker'])),
  srun('-K ./worker', step(['-K'], ['./worker'])),
  srun('--exclusive --mpi=pmix ./worker', step(['--exclusive', '--mpi=pmix'], ['./worker'])),
  srun('--ntasks-per-no=1 ./worker', step(['--ntasks-per-no=1'], ['./worker'])),
  srun('--ntask=2 ./worker', pass('ambiguous option --ntask')),
  srun('--nodel n1 ./worker', step(['--nodel', 'n1'], ['./worker'])),
  srun('--node=2 ./worker', pass('ambiguous option --node')),
  srun('--nodes ./worker', pass('no command')),
  srun('--frobnicate ./worker', pass('unknown option --frobnicate')),
  srun('-y ./worker', pass('unknown option -y')),
  srun('--overlap=yes ./worker', pass('--overlap takes no value')),
  srun('-n', pass('-n without its value')),
  srun('--ntasks', pass('--ntasks without its value')),
  srun('--help', pass('--help')),
  srun('-h', pass('--help')),
  srun('--multi-prog conf', pass('--multi-prog')),
  srun('--test-only ./worker', pass('--test-only')),
  srun('-N2', pass('no command')),
  srun('--export=ALL,A=1 --chdir /tmp sh -c x', step(['--export=ALL,A=1', '--chdir', '/tmp'], ['sh', '-c', 'x'])),
  srun('-o out -e err -i none --label ./w', step(['-o', 'out', '-e', 'err', '-i', 'none', '--label'], ['./w'])),
  srun('- x', step([], ['-', 'x'])),
];
