// `stasis restart [D|gen]`: restores the newest committed generation of D
// (or the one named). One process: this process becomes the restart loader,
// so the exit status is the program's own.
import type { CommandModule } from 'yargs';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { chooseRestorable } from '../images/restorable.js';
import { generationName } from '../images/manifest.js';
import { Progress, rate, size } from './progress.js';
import { saveModeFromEnv } from '../coordinator/save-mode.js';
import { jobSettings, readSettings, writeSettings, SETTINGS_FILE, type JobSettings } from '../images/settings.js';
import { loaderTrees } from '../images/tree.js';
import { detectJob, type ResourceManager } from '../rm/index.js';
import { parseHostMap, parseHosts, placeHosts } from './host-map.js';
import { isThisHost, movedEnv, restartOnHosts, staying, type Placed } from './restart-hosts.js';
import { formatAddress, liveCoordinator } from '../coordinator/publish.js';
import { startPrivateCoordinator, stopPrivateCoordinator } from '../coordinator/spawn.js';
import type { Store } from '../images/store.js';
import type { Manifest } from '../images/manifest.js';
import { execve, guardHandOver, handedOver, loaderPath } from '../native.js';
import { intOption, pathOption } from './options.js';
import { coordHostOption, coordinatorHost } from '../coordinator/hosts.js';

interface Args { eager?: boolean; hosts?: string; hostMap?: string | string[]; coordHost?: string; target?: string; interval?: number; keep?: number; root?: string; pathMap?: string | string[] }

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
 * The settings the job ran with (D/settings.json), overridden by what the
 * command line gives; these become the job's settings from now on.
 */
export function restartSettings(dir: string, a: { interval?: number; keep?: number }): JobSettings {
  let saved: JobSettings | null;
  try { saved = readSettings(dir); } catch (e) {
    if (a.interval === undefined || a.keep === undefined)
      throw new Error(`${(e as Error).message}: give --interval and --keep, or remove ${SETTINGS_FILE}`);
    saved = null;
  }
  // STASIS_SAVE given to restart overrides how the job saved so far.
  const save = process.env.STASIS_SAVE ? saveModeFromEnv() : saved?.save;
  return jobSettings(a.interval ?? saved?.interval ?? 0, a.keep ?? saved?.keep ?? 0, saved?.compress ?? null, saved?.plugins, save, saved?.localDir);
}

/**
 * Several roots: one loader each, and the first failure is the status.
 * Each gets what this command inherited, on the same numbers.
 */
async function waitAll(argvs: string[][], env: NodeJS.ProcessEnv, envs: NodeJS.ProcessEnv[] = []): Promise<number> {
  const stdio: Array<'inherit' | 'ignore' | number> = ['inherit', 'inherit', 'inherit'];
  for (const [fd, at] of handedOver()) {
    while (stdio.length <= fd) stdio.push('ignore');
    stdio[fd] = at;
  }
  const codes = await Promise.all(argvs.map((argv, i) => new Promise<number>((res) => {
    const child = spawn(loaderPath, argv, { env: envs[i] ?? env, stdio });
    child.on('exit', (code, sig) => res(code ?? 128 + (sig ? 9 : 0)));
  })));
  return codes.find((c) => c !== 0) ?? 0;
}

/** The allocation restart runs in; one it cannot read (a PBS job without its node file) counts as none. */
function resourceManager(): ResourceManager {
  try { return detectJob(process.env); } catch { return detectJob(process.env, { rm: 'local' }); }
}

async function run(a: Args): Promise<void> {
  guardHandOver();
  // STASIS_DEBUG: where the CLI's part of the restart went, in ms since Node started.
  const debug = process.env.STASIS_DEBUG ? (what: string) => process.stderr.write(`stasis restart: ${what} at ${performance.now().toFixed(0)} ms\n`) : () => {};
  debug('started');
  const pathMap = pathMapEnv([a.pathMap ?? []].flat());  // repeated: an array
  const target = a.target ?? (process.env.STASIS_CKPT_DIR || 'stasis-ckpt');
  if (target === '') throw new Error('restart: an empty target path');
  const root = a.root ? resolve(a.root) : undefined;
  if (root && !existsSync(join(root, 'proc', 'self'))) throw new Error(`--root ${root}: not a directory with /proc mounted inside`);
  // What needs the chosen generation's manifest only, its coordinator last:
  // done while the generation is verified (the coordinator's Node start
  // would otherwise be waited for after it), undone if it does not verify.
  const prepare = async (c: { store: Store; dir: string; manifest: Manifest }) => {
    if (liveCoordinator(c.store.dir)?.private === false)
      throw new Error(`a coordinator already serves ${c.store.dir}: stop it first (stasis command --ckpt-dir ${c.store.dir} --quit)`);
    // Where each old host's trees go: refused before anything starts when a host has no place.
    const rm = resourceManager();
    const trees = loaderTrees(c.manifest, c.dir);
    // Old hosts in name order (n2 before n10), whatever order they joined in.
    const oldHosts = [...new Set(c.manifest.processes.map((p) => p.host))].sort((x, y) => x.localeCompare(y, 'en', { numeric: true }));
    const newHost = placeHosts(oldHosts, {
      hostMap: a.hostMap !== undefined ? parseHostMap([a.hostMap].flat()) : undefined,
      hosts: a.hosts !== undefined ? parseHosts(a.hosts) : undefined,
      allocation: rm.kind === 'local' ? null : rm.job.nodes.map((n) => n.host),
    });
    const placed: Placed[] = trees.map((tree) => ({ tree, host: newHost.get(tree.host) ?? null }));
    const elsewhere = placed.some((p) => !isThisHost(p.host, rm));
    const settings = restartSettings(c.store.dir, a);
    if (settings.save === 'forked') process.env.STASIS_SAVE = 'forked';   // the private coordinator below reads it
    const coordinator = await startPrivateCoordinator({ ckptDir: c.store.dir, interval: settings.interval, keep: settings.keep,
      expect: c.manifest.processes.length, host: await coordinatorHost(a.coordHost, process.env, elsewhere), restoreFrom: c.dir });
    debug('coordinator started');
    return { rm, trees, placed, elsewhere, settings, coordinator };
  };
  // Every byte verified before anything is restored; a damaged newest generation is skipped, saying so.
  const progress = new Progress();
  const t0 = Date.now();
  const { store, dir, manifest, notice, generation, started, verified } = await chooseRestorable(target, (p) => progress.update(
    `stasis: verifying ${generationName(p.generation)}: image ${Math.min(p.image + 1, p.images)} of ${p.images}, `
    + `${size(p.bytes)} of ${size(p.total)}, ${rate(p.bytes, (Date.now() - t0) / 1000)}`, p.image === p.images),
  { start: prepare, undo: (p) => stopPrivateCoordinator(p.coordinator) }).finally(() => progress.clear());
  const { rm, trees, placed, elsewhere, settings, coordinator: { address, token } } = started!;
  if (notice) process.stderr.write(`stasis: ${notice}\n`);
  debug('verified');
  const images = manifest.processes.map((p) => join(dir, p.image));
  if (progress.enabled) {
    const s = (Date.now() - t0) / 1000;
    process.stderr.write(`stasis: ${generationName(generation)} verified (${images.length} image(s), ${size(manifest.totalBytes)} in ${s.toFixed(2)} s, `
      + `${rate(manifest.totalBytes, s)}); restoring ${images.length} process(es)\n`);
  }
  writeSettings(store.dir, settings);
  const env: NodeJS.ProcessEnv = {
    ...process.env, STASIS_COORD: formatAddress(address), STASIS_TOKEN: token, STASIS_CKPT_DIR: store.dir,
  };
  // Restored processes have their plugins in memory and STASIS_PLUGINS in
  // their environment already; the loader's environment says the same.
  if (settings.plugins?.length) env.STASIS_PLUGINS = settings.plugins.join(',');
  else delete env.STASIS_PLUGINS;
  // The loader does not read again what it maps from these files (verified just now, unchanged).
  if (verified.length) env.STASIS_VERIFIED = verified.join('\n');
  else delete env.STASIS_VERIFIED;
  // --eager: every page filled before the program runs (the loader reads STASIS_EAGER; lazy otherwise).
  if (a.eager) env.STASIS_EAGER = '1';
  // One process: it runs on before its coordinator (a Node start) answers (native/core/checkpoint.c).
  if (manifest.processes.length === 1) env.STASIS_RESTORE_ALONE = '1';
  else delete env.STASIS_RESTORE_ALONE;
  // The loader changes root to it before restoring (it opens the image first).
  if (root) env.STASIS_ROOT = root;
  // The loader and the restored processes look for moved files under NEW.
  if (pathMap) env.STASIS_PATH_MAP = pathMap;
  else delete env.STASIS_PATH_MAP;
  if (elsewhere) {
    const timeout = Number(process.env.STASIS_RESTORE_TIMEOUT ?? 120);
    process.exitCode = await restartOnHosts(placed, env, rm, store.dir, { address, token }, timeout > 0 ? timeout : 120);
    return;
  }
  // One root (the launched program, its children below it): this process becomes its loader.
  const argvs = trees.map((t) => t.argv);
  const stays = staying(trees.map((t) => ({ oldHost: isThisHost(t.host, rm) ? hostname() : t.host, newHost: hostname() })));
  const envs = trees.map((t, i) => movedEnv(env, t.host, stays[i]!));
  // On a terminal the loader draws the bytes it fills (decompresses) of the total.
  if (argvs.length === 1) execve(loaderPath, ['stasis-restart', ...argvs[0]!], progress.enabled ? { ...envs[0]!, STASIS_PROGRESS: '1' } : envs[0]!);
  process.exitCode = await waitAll(argvs, env, envs);
}

export const restartCommand: CommandModule<object, Args> = {
  command: 'restart [target]',
  describe: 'Restart from a checkpoint directory (its newest generation) or a gen-NNNNNN directory',
  builder: (y) => y
    .positional('target', { type: 'string', describe: 'checkpoint directory or generation directory (default: STASIS_CKPT_DIR or ./stasis-ckpt)' })
    .option('coord-host', coordHostOption)
    .option('eager', { type: 'boolean', describe: 'fill all memory before the program runs again (default: lazily, on first touch and in the background; also STASIS_EAGER=1)' })
    .option('interval', intOption('interval', 'seconds between checkpoints after the restart (default: as the job ran, from settings.json)'))
    .option('keep', intOption('keep', 'keep the newest N generations, 0: all (default: as the job ran, from settings.json)'))
    .option('root', pathOption('root', 'restore inside this chroot, where the program ran (default: STASIS_ROOT)', process.env.STASIS_ROOT || undefined))
    .option('hosts', { type: 'string', requiresArg: true,
      describe: 'restart onto these hosts (comma-separated), the old hosts in turn, several onto one when fewer (default: the allocation\'s nodes)' })
    .option('host-map', { type: 'string', requiresArg: true,
      describe: 'OLD=NEW,...: the processes that ran on OLD restart on NEW (repeatable); every old host must be named' })
    .option('path-map', { type: 'string', requiresArg: true,
      describe: 'OLD=NEW: files under OLD at the checkpoint are now under NEW (repeatable)' }) as never,
  handler: (a) => run(a),
};
