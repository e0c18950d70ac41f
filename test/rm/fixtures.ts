// Where the shared RM fixtures live and how to read them. CI clones the repo
// with a copy of shared/ beside it, so ../shared from the repo root is right
// both here and there.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/test/rm/fixtures.js → three levels up is the repo root. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const fixturesDir = join(repoRoot, '..', 'shared', 'fixtures');

export function fixturePath(...parts: string[]): string {
  return join(fixturesDir, ...parts);
}

export function readFixture(...parts: string[]): string {
  return readFileSync(fixturePath(...parts), 'utf8');
}

export function listFixtures(dir: 'slurm' | 'torque'): string[] {
  return readdirSync(fixturePath(dir)).sort();
}

/** A KEY=VALUE dump (one variable a line) as an environment object. */
export function readEnvFixture(...parts: string[]): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const line of readFixture(...parts).split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}
