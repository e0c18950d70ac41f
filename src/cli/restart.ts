// `stasis restart [D|gen]`: restores the newest committed generation of D
// (or the one named). One process: this process becomes the restart loader,
// so the exit status is the program's own.
import type { CommandModule } from 'yargs';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { resolveGeneration } from '../images/store.js';
import { loaderArgvs } from '../images/tree.js';
import { formatAddress, liveCoordinator } from '../coordinator/publish.js';
import { startPrivateCoordinator } from '../coordinator/spawn.js';
import { execve, guardHandOver, handedOver, loaderPath } from '../native.js';

interface Args { target?: string; interval: number; keep: number; root?: string; pathMap?: string | string[] }

/**
 * `--path-map OLD=NEW` specs as the loader takes them (STASIS_PATH_MAP: one
 * "OLD=NEW" a line, split at the first '='); throws on a bad one.
 */
export function pathMapEnv(specs: string[]): string {
  return specs.map((spec) => {
    const eq = spec.indexOf('=');
    const [from, to] = [spec.slice(0, eq), spec.slice(eq + 1)];
    const why = eq < 0 ? "no '='" : !from ? 'OLD is empty' : !to ? 'NEW is empty'
      : !from.startsWith('/') || !to.startsWith('/') ? 'OLD and NEW must be absolute paths'
        : spec.includes('\n') ? 'a path with a newline' : null;
    if (why) throw new Error(`--path-map '${spec}': ${why} (want OLD=NEW, e.g. /scratch/old=/scratch/new)`);
    return spec;
  }).join('\n');
}

/**
 * Several roots: one loader each, and the first failure is the status.
 * Each gets what this command inherited, on the same numbers.
 */
async function waitAll(argvs: string[][], env: NodeJS.ProcessEnv): Promise<number> {
  const stdio: Array<'inherit' | 'ignore' | number> = ['inherit', 'inherit', 'inherit'];
  for (const [fd, at] of handedOver()) {
    while (stdio.length <= fd) stdio.push('ignore');
    stdio[fd] = at;
  }
  const codes = await Promise.all(argvs.map((argv) => new Promise<number>((res) => {
    const child = spawn(loaderPath, argv, { env, stdio });
    child.on('exit', (code, sig) => res(code ?? 128 + (sig ? 9 : 0)));
  })));
  return codes.find((c) => c !== 0) ?? 0;
}

async function run(a: Args): Promise<void> {
  guardHandOver();
  const pathMap = pathMapEnv([a.pathMap ?? []].flat());  // repeated: an array
  const target = a.target ?? process.env.STASIS_CKPT_DIR ?? 'stasis-ckpt';
  const { store, dir, manifest } = resolveGeneration(target);
  const images = manifest.processes.map((p) => join(dir, p.image));
  const missing = images.find((f) => !existsSync(f));
  if (missing) throw new Error(`${missing}: image listed in the manifest is missing`);
  const sides = manifest.processes.flatMap((p) => p.files ?? []).map((f) => join(dir, f.name));
  const missingSide = sides.find((f) => !existsSync(f));
  if (missingSide) throw new Error(`${missingSide}: file listed in the manifest is missing`);
  const root = a.root ? resolve(a.root) : undefined;
  if (root && !existsSync(join(root, 'proc', 'self'))) throw new Error(`--root ${root}: not a directory with /proc mounted inside`);
  if (liveCoordinator(store.dir)?.private === false)
    throw new Error(`a coordinator already serves ${store.dir}: stop it first (stasis command --ckpt-dir ${store.dir} --quit)`);
  const { address, token } = await startPrivateCoordinator({ ckptDir: store.dir, interval: a.interval, keep: a.keep, expect: images.length });
  const env: NodeJS.ProcessEnv = {
    ...process.env, STASIS_COORD: formatAddress(address), STASIS_TOKEN: token, STASIS_CKPT_DIR: store.dir,
  };
  // The loader changes root to it before restoring (it opens the image first).
  if (root) env.STASIS_ROOT = root;
  // The loader and the restored processes look for moved files under NEW.
  if (pathMap) env.STASIS_PATH_MAP = pathMap;
  else delete env.STASIS_PATH_MAP;
  // One root (the launched program, its children below it): this process becomes its loader.
  const argvs = loaderArgvs(manifest, dir);
  if (argvs.length === 1) execve(loaderPath, ['stasis-restart', ...argvs[0]!], env);
  process.exitCode = await waitAll(argvs, env);
}

export const restartCommand: CommandModule<object, Args> = {
  command: 'restart [target]',
  describe: 'Restart from a checkpoint directory (its newest generation) or a gen-NNNNNN directory',
  builder: (y) => y
    .positional('target', { type: 'string', describe: 'checkpoint directory or generation directory (default: STASIS_CKPT_DIR or ./stasis-ckpt)' })
    .option('interval', { type: 'number', default: 0, describe: 'seconds between checkpoints after the restart' })
    .option('keep', { type: 'number', default: 0, describe: 'keep the newest N generations (0: all)' })
    .option('root', { type: 'string', default: process.env.STASIS_ROOT, describe: 'restore inside this chroot, where the program ran (default: STASIS_ROOT)' })
    .option('path-map', { type: 'string', requiresArg: true,
      describe: 'OLD=NEW: files under OLD at the checkpoint are now under NEW (repeatable)' }) as never,
  handler: (a) => run(a),
};
