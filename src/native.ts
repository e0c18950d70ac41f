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

function addon(): { execve(path: string, argv: string[], envp: string[]): never } {
  const file = join(nativeDir, 'execve.node');
  if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build`);
  return createRequire(import.meta.url)(file);
}

/** Replaces this process with `path`; returns only by throwing. */
export function execve(path: string, argv: string[], env: NodeJS.ProcessEnv): never {
  if (!existsSync(path)) throw new Error(`${path} is missing: run npm run build`);
  const envp = Object.entries(env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
  return addon().execve(path, argv, envp);
}
