// `stasis restart` of a generation whose processes go to other hosts (docs/
// user-guide.md, "Restarting on other hosts"): one loader per tree, started
// here when its new host is this one, else through the resource manager's
// spawn verb (srun --overlap --nodelist in an allocation, ssh otherwise).
// A remote loader gets the coordinator's address and the store on its
// command line and reads the token from <store>/token: nothing secret on a
// command line. Until every image has joined, a loader that fails (or
// images that do not join in time) ends the restart: one line naming the
// host, what was restored already is killed, the generation is left as it is.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { CommandClient } from '../coordinator/client.js';
import { decodeArg } from '../coordinator/protocol.js';
import { TOKEN_FILE, type CoordAddress } from '../coordinator/publish.js';
import type { ResourceManager } from '../rm/index.js';
import type { LoaderTree } from '../images/tree.js';
import { handedOver, loaderPath } from '../native.js';

/** A loader and where it goes: `host` null or this host's name means here. */
export interface Placed { tree: LoaderTree; host: string | null }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const STASIS_VARS = ['STASIS_COORD', 'STASIS_CKPT_DIR', 'STASIS_PLUGINS', 'STASIS_PATH_MAP', 'STASIS_ROOT', 'STASIS_DEBUG', 'STASIS_RESTORED_FROM', 'STASIS_EAGER'];

/**
 * A loader's environment: STASIS_RESTORED_FROM names the old host when its
 * images ran on another host, or share their new one with another old
 * host's: the loader then lets a listener whose port is taken there listen
 * at another (two old hosts' programs listening at one port, now on one
 * node, as Open MPI's ranks at 1024, 1025...).
 */
export function movedEnv(env: NodeJS.ProcessEnv, oldHost: string, stays: boolean): NodeJS.ProcessEnv {
  const out = { ...env };
  if (stays) delete out.STASIS_RESTORED_FROM;
  else out.STASIS_RESTORED_FROM = oldHost;
  return out;
}

/** For each placed tree: whether its old host's processes stay alone where they ran. */
export function staying(placed: Array<{ oldHost: string; newHost: string }>): boolean[] {
  const oldOn = new Map<string, Set<string>>();
  for (const p of placed) oldOn.set(p.newHost, (oldOn.get(p.newHost) ?? new Set()).add(p.oldHost));
  return placed.map((p) => p.oldHost === p.newHost && oldOn.get(p.newHost)!.size === 1);
}

/** Whether `host` (a node name as the user or the resource manager gives it) is this one. */
export function isThisHost(host: string | null, rm: ResourceManager): boolean {
  if (host === null) return true;
  const here = hostname();
  return [here, here.split('.')[0], rm.job.thisNode, 'localhost'].includes(host) || host.split('.')[0] === here.split('.')[0];
}

/**
 * argv run on the remote host: the token read there from the store, the
 * rest of the loader's environment given as words of `env`.
 */
export function remoteLoaderArgv(tree: LoaderTree, env: NodeJS.ProcessEnv, store: string): string[] {
  const vars = STASIS_VARS.filter((k) => env[k] !== undefined).map((k) => `${k}=${env[k]}`);
  return ['sh', '-c', 'STASIS_TOKEN=$(cat "$0") && export STASIS_TOKEN && exec env "$@"', join(store, TOKEN_FILE),
    ...vars, loaderPath, ...tree.argv];
}

interface Running { placed: Placed; child: ChildProcess; lastErr: string; exit: Promise<number> }

function start(p: Placed, allEnv: NodeJS.ProcessEnv, rm: ResourceManager, store: string, stays: boolean): Running {
  const local = isThisHost(p.host, rm);
  const env = movedEnv(allEnv, p.tree.host, stays);
  const stdio: Array<'inherit' | 'ignore' | 'pipe' | number> = local ? ['inherit', 'inherit', 'inherit'] : ['ignore', 'inherit', 'pipe'];
  if (local) for (const [fd, at] of handedOver()) {
    while (stdio.length <= fd) stdio.push('ignore');
    stdio[fd] = at;
  }
  const [file, ...args] = local ? [loaderPath, ...p.tree.argv] : rm.spawnArgv([p.host!], remoteLoaderArgv(p.tree, env, store));
  const child = spawn(file!, args, { env, stdio });
  const r: Running = { placed: p, child, lastErr: '', exit: Promise.resolve(0) };
  // A remote loader's stderr passes through; its last line says why it failed.
  child.stderr?.on('data', (b: Buffer) => {
    process.stderr.write(b);
    const lines = b.toString().split('\n').map((l) => l.trim()).filter(Boolean);
    if (lines.length) r.lastErr = lines[lines.length - 1]!;
  });
  r.exit = new Promise((res) => {
    child.on('error', (e) => { r.lastErr = `${file}: ${e.message}`; res(127); });
    child.on('exit', (code, sig) => res(code ?? 128 + (sig ? 9 : 0)));
  });
  return r;
}

function where(p: Placed): string {
  return `${p.host ?? hostname()} (images of ${p.tree.host})`;
}

/**
 * Starts every loader, waits until all restored processes run (or one
 * fails), then until every loader has ended; the first non-zero status is
 * the restart's. Throws one line on a failure before all run.
 */
export async function restartOnHosts(placed: Placed[], env: NodeJS.ProcessEnv, rm: ResourceManager, store: string,
  coord: { address: CoordAddress; token: string }, timeoutS: number): Promise<number> {
  const here = hostname();
  const newHost = (p: Placed) => (isThisHost(p.host, rm) ? here : p.host!);
  const oldHost = (p: Placed) => (isThisHost(p.tree.host, rm) ? here : p.tree.host);
  const stays = staying(placed.map((p) => ({ oldHost: oldHost(p), newHost: newHost(p) })));
  const loaders = placed.map((p, i) => start(p, env, rm, store, stays[i]!));
  const failed = new Map<Running, number>();
  for (const l of loaders) void l.exit.then((code) => { if (code !== 0) failed.set(l, code); });
  const deadline = Date.now() + timeoutS * 1000;
  let client: CommandClient | null = null;
  try {
    for (;;) {
      const bad = [...failed.keys()][0];
      if (bad) throw new Error(`restart: ${where(bad.placed)}: ${bad.lastErr || `the loader exited with status ${failed.get(bad)}`}`);
      client ??= await CommandClient.open({ address: coord.address, token: coord.token, ckptDir: store }).catch(() => null);
      const status = client ? JSON.parse(decodeArg((await client.request('STATUS'))[1] ?? '')) as { state: string; clients: Array<{ pid: number; origin: string; restored: boolean }> } : null;
      if (status && status.state !== 'restoring') break;
      if (Date.now() > deadline) {
        const joined = new Set((status?.clients ?? []).filter((c) => c.restored).map((c) => `${c.origin}/${c.pid}`));
        const late = placed.filter((p) => p.tree.images.some((img) => !joined.has(imageId(img))));
        throw new Error(`restart: ${late.map(where).join(', ')}: not restored within ${timeoutS} s (STASIS_RESTORE_TIMEOUT)`);
      }
      await sleep(200);
    }
  } catch (e) {
    await stopAll(loaders, client, coord);
    throw e;
  } finally {
    client?.close();
  }
  const codes = await Promise.all(loaders.map((l) => l.exit));
  return codes.find((c) => c !== 0) ?? 0;
}

/** "origin_self-n2-7.img" → "n2/7": the (origin, pid) an image name carries. */
function imageId(image: string): string {
  const m = /-([^-]*)-(\d+)\.img$/.exec(image);
  return m ? `${m[1]}/${m[2]}` : image;
}

/** Kills what was restored (through the coordinator) and every loader still running; bounded. */
async function stopAll(loaders: Running[], client: CommandClient | null, coord: { address: CoordAddress; token: string }): Promise<void> {
  const until = Date.now() + 10_000;
  let kills = 0;
  while (Date.now() < until && loaders.some((l) => l.child.exitCode === null && l.child.signalCode === null)) {
    // Again and again: a loader still filling memory joins later.
    try {
      client ??= await CommandClient.open({ address: coord.address, token: coord.token, ckptDir: null });
      await client.request('KILL');
    } catch { client = null; }
    if (++kills === 10) for (const l of loaders) l.child.kill('SIGKILL');
    await sleep(300);
  }
  for (const l of loaders) l.child.kill('SIGKILL');
}
