// The program's own argv: everything after the first `--`, untouched by
// yargs (no number parsing, no option handling).
export function programArgv(raw: string[] = process.argv): string[] {
  const i = raw.indexOf('--');
  return i >= 0 ? raw.slice(i + 1) : [];
}
