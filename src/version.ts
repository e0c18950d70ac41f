// The version written into manifests; kept in step with package.json.
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
export const STASIS_VERSION: string = pkg.version;
