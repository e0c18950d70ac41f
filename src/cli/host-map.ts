// Where each old host's processes restart (docs/user-guide.md, "Restarting
// on other hosts"): `--host-map old=new,...`, else `--hosts a,b,...`, else the
// allocation's nodes, else where they ran. Pure: unit-tested from a table.

/** `--host-map` specs (repeatable, each comma-separated) as old → new. */
export function parseHostMap(specs: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const item of specs.flatMap((s) => s.split(','))) {
    const eq = item.indexOf('=');
    const [from, to] = [item.slice(0, eq), item.slice(eq + 1)];
    if (eq < 0 || !from || !to || /[\s=]/.test(to)) throw new Error(`--host-map '${item}': want OLD=NEW, e.g. n2=n4`);
    if (map.has(from) && map.get(from) !== to) throw new Error(`--host-map: ${from} mapped twice (${map.get(from)}, ${to})`);
    map.set(from, to);
  }
  return map;
}

/** `--hosts a,b,...` as a list (no empty names). */
export function parseHosts(spec: string): string[] {
  const hosts = spec.split(',');
  if (hosts.some((h) => !h || /\s/.test(h))) throw new Error(`--hosts '${spec}': want names separated by commas, e.g. n1,n2`);
  return hosts;
}

export interface PlaceOptions {
  hostMap?: Map<string, string>;
  hosts?: string[];
  /** The allocation's nodes, in the resource manager's order; null outside an allocation. */
  allocation?: string[] | null;
}

/**
 * The new host of every old host (`old` in name order). By
 * hand, every old host must be named; onto a list, old hosts take its
 * entries in turn, several sharing one when the list is shorter. Outside
 * an allocation and without flags, a job of one host restarts here (null:
 * this host, whatever its name) and one of several hosts where it ran.
 */
export function placeHosts(old: string[], o: PlaceOptions): Map<string, string | null> {
  if (o.hostMap) {
    const missing = old.filter((h) => !o.hostMap!.has(h));
    if (missing.length) throw new Error(`restart: ${missing.join(', ')} in the image ${missing.length > 1 ? 'have' : 'has'} no mapping: add ${missing.map((h) => `${h}=NEW`).join(',')} to --host-map`);
    return new Map(old.map((h) => [h, o.hostMap!.get(h)!]));
  }
  const list = o.hosts ?? (o.allocation && o.allocation.length ? o.allocation : null);
  if (list) return new Map(old.map((h, i) => [h, list[Math.floor((i * list.length) / old.length) % list.length]!]));
  return new Map(old.map((h) => [h, old.length === 1 ? null : h]));
}
