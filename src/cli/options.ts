// Strictly checked option values. yargs' own `number` type takes `abc` (NaN),
// `0x10`, `1.5`, `Infinity` and an empty string (0); these take decimal
// digits only and throw one line naming the option, which .fail() prints.
import type { Options } from 'yargs';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

export interface IntRange { min?: number; max?: number }

/** `--name`'s value as a whole number of decimal digits within [min, max]. */
export function parseInteger(name: string, value: unknown, { min = 0, max = Number.MAX_SAFE_INTEGER }: IntRange = {}): number {
  if (Array.isArray(value)) throw new Error(`--${name} given more than once`);
  const s = String(value ?? '');
  const bounds = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
  if (!/^\d+$/.test(s)) throw new Error(`--${name} '${s}': want ${bounds}`);
  const n = Number(s);
  if (n < min || n > max) throw new Error(`--${name} ${s}: want ${bounds}`);
  return n;
}

/**
 * An integer option: a value is required (`--keep` alone is an error, not
 * 0). Without `default` it stays undefined when not given, so a command can
 * tell "not given" from "0".
 */
export function intOption(name: string, describe: string, range: IntRange = {}, dflt?: number): Options {
  return {
    type: 'string', requiresArg: true, describe,
    ...(dflt === undefined ? {} : { default: dflt }),
    coerce: (v: unknown) => (typeof v === 'number' ? v : parseInteger(name, v, range)),
  };
}

/** A path option that may not be empty (`--ckpt-dir ""` is not the current directory). */
export function pathOption(name: string, describe: string, dflt?: string): Options {
  return {
    type: 'string', requiresArg: true, describe,
    ...(dflt === undefined ? {} : { default: dflt }),
    coerce: (v: unknown) => {
      if (Array.isArray(v)) throw new Error(`--${name} given more than once`);
      if (typeof v !== 'string' || v === '') throw new Error(`--${name}: an empty path`);
      return v;
    },
  };
}

/**
 * A comma-separated list of existing files, given once: `--with-plugin
 * a.so,b.so`. Each becomes an absolute path (the program may change
 * directory before it loads them); an empty item or a missing file throws
 * one line naming it.
 */
export function fileListOption(name: string, describe: string): Options {
  return {
    type: 'string', requiresArg: true, describe,
    coerce: (v: unknown) => {
      if (Array.isArray(v)) throw new Error(`--${name} given more than once (separate files with commas)`);
      if (typeof v !== 'string' || v === '') throw new Error(`--${name}: an empty list`);
      return v.split(',').map((item) => {
        if (item === '') throw new Error(`--${name} '${v}': an empty item`);
        const file = resolve(item);
        if (!existsSync(file) || !statSync(file).isFile()) throw new Error(`--${name} ${item}: no such file`);
        return file;
      });
    },
  };
}

/** What `--compress` / STASIS_COMPRESS take (native/core/init.c reads the same). */
const COMPRESSION = /^(zstd(:-?\d{1,3})?|lz4(:\d{1,5})?|none)$/;

/** A compression choice checked in one line naming where it came from. */
export function parseCompression(from: string, v: unknown): string {
  if (Array.isArray(v)) throw new Error(`${from} given more than once`);
  const s = String(v ?? '');
  const level = /^zstd:(-?\d+)$/.exec(s);
  if (!COMPRESSION.test(s) || (level && (Number(level[1]) < -100 || Number(level[1]) > 22)))
    throw new Error(`${from} '${s}': want zstd, zstd:LEVEL (-100 to 22), lz4, lz4:ACCELERATION or none`);
  return s;
}

export const compressOption: Options = {
  type: 'string', requiresArg: true,
  describe: 'image compression: zstd (default, level -3), zstd:LEVEL, lz4, lz4:ACCELERATION, none (default: STASIS_COMPRESS)',
  coerce: (v: unknown) => parseCompression('--compress', v),
};

/** The default checkpoint directory: STASIS_CKPT_DIR unless empty, else ./stasis-ckpt. */
export function defaultCkptDir(): string {
  return process.env.STASIS_CKPT_DIR || 'stasis-ckpt';
}
