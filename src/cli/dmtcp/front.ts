// What the four dmtcp_* fronts share: --help and --version, one-line errors
// with exit status 2, and handing the translated command line to the
// stasis CLI in this same process (so launch and restart still become the
// program or its loader, with the descriptors stasis-handover kept).
import { connect } from 'node:net';
import { join } from 'node:path';
import { STASIS_VERSION } from '../../version.js';
import { TOKEN_FILE } from '../../coordinator/publish.js';
import { DmtcpUsage, type Tool } from './flags.js';

export async function front(tool: Tool, usage: string, main: (argv: string[]) => Promise<void>): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.length === 1 && (argv[0] === '--help' || (argv[0] === '-h' && tool !== 'dmtcp_launch'))) {
    process.stdout.write(usage);
    return;
  }
  if (argv.length === 1 && argv[0] === '--version') {
    process.stdout.write(`${tool} (stasis ${STASIS_VERSION})\n`);
    return;
  }
  try {
    await main(argv);
  } catch (e) {
    const why = e instanceof DmtcpUsage ? e.message : (e as Error).message;
    process.stderr.write(`${tool}: ${why.replace(/\s*\n\s*/g, ' ')}\n`);
    process.exit(2);
  }
}

/** Runs `stasis ARGS...` in this process: its errors are its own one line, exit 2. */
export async function runStasis(args: string[]): Promise<void> {
  process.argv = [process.argv[0]!, join(process.argv[1] ?? '', '..', 'stasis.js'), ...args];
  await import('../index.js');
}

/**
 * The token options for talking to the coordinator at H:P: STASIS_TOKEN if
 * set, else the token file of the checkpoint directory (the coordinator
 * writes it there, mode 0600). The token never goes on a command line.
 */
export function tokenArgs(ckptDir: string, env = process.env): string[] {
  return env.STASIS_TOKEN ? [] : ['--token-file', join(ckptDir, TOKEN_FILE)];
}

/** Whether something accepts TCP connections at host:port (within `ms`). */
export function listening(host: string, port: number, ms = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, host);
    const done = (ok: boolean) => { clearTimeout(t); s.destroy(); resolve(ok); };
    const t = setTimeout(() => done(false), ms);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}
