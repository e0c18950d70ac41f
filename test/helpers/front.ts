// Running bin/stasis through its C front (native/launch/front*.c) or
// through Node, side by side: specs of the fast path compare the two.
import { execa } from 'execa';
import { stasisBin } from './stasis.js';

/** STASIS_FRONT=require: the front exits 99 instead of leaving the command to Node. */
export const FAST = { STASIS_FRONT: 'require' };

export interface Result { exitCode?: number; stdout: string; stderr: string }

/** bin/stasis with STASIS_FRONT=require. */
export const fast = (args: string[], env: Record<string, string> = {}, cwd?: string): Promise<Result> =>
  execa(stasisBin, args, { reject: false, stdin: 'ignore', env: { ...FAST, ...env }, cwd });

/** The Node CLI itself (`node bin/stasis`: the front does not run). */
export const viaNode = (args: string[], env: Record<string, string> = {}, cwd?: string): Promise<Result> =>
  execa('node', [stasisBin, ...args], { reject: false, stdin: 'ignore', env, cwd });
