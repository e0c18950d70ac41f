// Where the native half lives, and handing this process over to it:
// Node 20 has no execve, so a tiny addon does it (same PID, no parent left).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
export const nativeDir = join(repoRoot, 'native', 'build');
export const launcherPath = join(nativeDir, 'stasis-launch');
export const loaderPath = join(nativeDir, 'stasis-restart');
export const detachPath = join(nativeDir, 'stasis-detach');

/**
 * What happens to the descriptors the CLI inherited: always handed on as it
 * got them; "launch" also records them for the job (STASIS_INHERITED),
 * "launch-close" closes those above stderr instead.
 */
export type HandOver = 'plain' | 'launch' | 'launch-close';

function addon(): { execve(path: string, argv: string[], envp: string[], mode: HandOver): never; guard(): void } {
  const file = join(nativeDir, 'execve.node');
  if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build`);
  return createRequire(import.meta.url)(file);
}

/**
 * Until execve, the descriptors to hand over are close-on-exec: call before
 * starting any process (the coordinator must not hold the job's pipes).
 */
export function guardHandOver(): void {
  if (process.env.STASIS_HANDOVER) addon().guard();
}

/**
 * The descriptors above stderr this CLI inherited, as [number, where it
 * waits while Node runs] (stasis-handover's record), to hand to a child.
 */
export function handedOver(): Array<[number, number]> {
  const rec = process.env.STASIS_HANDOVER ?? '';
  const [pid, , moved] = rec.split(';');
  if (Number(pid) !== process.pid || !moved) return [];
  return moved.trim().split(/\s+/).map((e) => /^(\d+)=(\d+):/.exec(e)).filter((m): m is RegExpExecArray => !!m)
    .map((m) => [Number(m[1]), Number(m[2])]);
}

/** Replaces this process with `path`; returns only by throwing. */
export function execve(path: string, argv: string[], env: NodeJS.ProcessEnv, mode: HandOver = 'plain'): never {
  if (!existsSync(path)) throw new Error(`${path} is missing: run npm run build`);
  const envp = Object.entries(env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
  return addon().execve(path, argv, envp, mode);
}
