// Building argv that starts one command on several hosts, for launchers that
// take one host at a time (pbsdsh -h, pbs_tmrsh, ssh). Pure: no I/O.

/** Quotes one word for a POSIX shell. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A command line for a remote shell (ssh and pbs_tmrsh join their arguments). */
export function shellCommand(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

/** Each host repeated `tasksPerNode` times, in order: [a, a, b, b]. */
export function hostsWithCopies(hosts: readonly string[], tasksPerNode = 1): string[] {
  if (!Number.isInteger(tasksPerNode) || tasksPerNode < 1) {
    throw new Error(`tasksPerNode must be a positive integer, not ${tasksPerNode}`);
  }
  return hosts.flatMap((h) => new Array<string>(tasksPerNode).fill(h));
}

/**
 * One argv that runs all `commands` at once and exits with the last non-zero
 * status among them (0 when all succeed). A single command is returned as is,
 * so the common one-host case has no shell in between.
 */
export function runAllArgv(commands: readonly string[][]): string[] {
  if (commands.length === 0) throw new Error('nothing to spawn: no hosts given');
  if (commands.length === 1) return [...(commands[0] as string[])];
  const starts = commands.map((c, i) => `${shellCommand(c)} & p${i}=$!`);
  const waits = commands.map((_, i) => `wait $p${i} || rc=$?`);
  return ['sh', '-c', ['rc=0', ...starts, ...waits, 'exit $rc'].join('\n')];
}

/** ssh that never stops to ask for a password or a host key. */
export function sshArgv(host: string, argv: readonly string[]): string[] {
  return ['ssh', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=accept-new', host, shellCommand(argv)];
}
