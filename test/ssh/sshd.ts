// A private sshd on 127.0.0.1 (random port, its own host key and
// authorized key in a temp dir) and the ssh config to reach it, for the
// relay tests. Stopped by its pid.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Sshd { dir: string; port: number; config: string; pid: number; stop(): void }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function answers(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => { s.destroy(); res(true); });
    s.on('error', () => res(false));
  });
}

export async function startSshd(): Promise<Sshd> {
  const dir = mkdtempSync(join(tmpdir(), 'stasis-sshd-'));
  for (const key of ['host_key', 'id']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, key)]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'id.pub')));
  for (let attempt = 0; ; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    writeFileSync(join(dir, 'sshd_config'), [
      'ListenAddress 127.0.0.1', `Port ${port}`, `HostKey ${dir}/host_key`, `PidFile ${dir}/sshd.pid`,
      `AuthorizedKeysFile ${dir}/authorized_keys`, 'PermitRootLogin prohibit-password', 'PasswordAuthentication no',
      'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no', 'UseDNS no', '',
    ].join('\n'));
    writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${readFileSync(join(dir, 'host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
    writeFileSync(join(dir, 'ssh_config'), [
      'Host *', `  IdentityFile ${dir}/id`, '  IdentitiesOnly yes', `  UserKnownHostsFile ${dir}/known_hosts`,
      '  StrictHostKeyChecking yes', '  BatchMode yes', '  ConnectTimeout 5', '',
    ].join('\n'));
    try { execFileSync('/usr/sbin/sshd', ['-f', join(dir, 'sshd_config')], { stdio: 'ignore' }); } catch (e) {
      if (attempt < 5) continue;
      throw e;
    }
    for (let i = 0; i < 100 && !(existsSync(join(dir, 'sshd.pid')) && await answers(port)); i++) await sleep(50);
    if (!existsSync(join(dir, 'sshd.pid'))) {
      if (attempt < 5) continue;
      throw new Error(`sshd -f ${dir}/sshd_config wrote no pid file`);
    }
    const pid = Number(readFileSync(join(dir, 'sshd.pid'), 'utf8'));
    return {
      dir, port, pid, config: join(dir, 'ssh_config'),
      stop() {
        try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}
