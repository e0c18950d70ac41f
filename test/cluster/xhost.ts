// Helpers for tests of one job on several nodes: starting a process on a
// node in the background.
import assert from 'node:assert/strict';
import { onNode } from './cluster.js';

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Starts `argv` inside `node` in the background, its output into `out`,
 * with no descriptor but 0-2: one the test runner inherited (a pipe of
 * whatever started it) is held by the node's init too, so a job process
 * holding it could not be checkpointed.
 */
export async function startOnNode(node: string, argv: string[], out: string, env: Record<string, string> = {}): Promise<void> {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${quote(v)}`).join(' ');
  const closeAll = 'for f in /proc/$$/fd/*; do n=${f##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done 2>/dev/null;';
  const r = await onNode(node, 'bash', ['-c', `${closeAll} ${vars} nohup ${argv.map(quote).join(' ')} > ${quote(out)} 2>&1 < /dev/null &`]);
  assert.equal(r.exitCode, 0, `starting on ${node}: ${r.stderr}`);
}
