// Hostlists against real Slurm 22.05 output: the shared fixture (captured
// with scontrol) first, then corners, then — where scontrol is installed —
// a live comparison with Slurm itself.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandHostlist, compressHostlist, MAX_HOSTS_PER_RANGE } from '../../src/rm/hostlist.js';
import { readFixture } from './fixtures.js';

interface HostlistCases {
  expand: Record<string, string[]>;
  invalid: string[];
  compress: Record<string, string>;
}

const cases = JSON.parse(readFixture('slurm', 'hostlist-cases.json')) as HostlistCases;

/** Corners checked by hand with `scontrol show hostnames` (Slurm 22.05.8). */
const slurmCorners: Record<string, string[]> = {
  // Three groups: the last varies fastest, then the first, then the middle.
  'x[1-2]y[3-4]z[5-6]': ['x1y3z5', 'x1y3z6', 'x2y3z5', 'x2y3z6', 'x1y4z5', 'x1y4z6', 'x2y4z5', 'x2y4z6'],
  'rack[1-2]-n[01-03]': ['rack1-n01', 'rack1-n02', 'rack1-n03', 'rack2-n01', 'rack2-n02', 'rack2-n03'],
  'n[1-2][3-4]': ['n13', 'n14', 'n23', 'n24'],
  'n[1-3],n[2-4]': ['n1', 'n2', 'n3', 'n2', 'n3', 'n4'],
  'n[3,1,2]': ['n3', 'n1', 'n2'],
  'n[1-]': ['n1'],
  'n[01-1]': ['n01'],
  'n[ 1]': ['n01'],
  'n[1a-3]': ['n01', 'n02', 'n03'],
  'n[+1-2]': ['n01', 'n02'],
  'n[1-+2]': ['n1', 'n2'],
  '[1-2]': ['1', '2'],
  'n1-3': ['n1-3'],
  'a b\tc': ['a', 'b', 'c'],
  'n[1-2],,n3,': ['n1', 'n2', 'n3'],
  '': [],
};

const slurmRejects = [
  'n[1-2]-', 'n[1-2].ib', 'a[1-2]b[3-4]c', 'n[[1-2]]', 'n[]', 'n[-2]', 'n[1,,2]',
  'n[1-2-3]', 'n[1--2]', 'n[1a]', 'n[1 ]', 'n[0x1]', 'n[1-2]x[y]', 'n[1-3]],x', 'n[0-65536]',
];

/** Refused by us although Slurm 22.05 accepts them (it turns "n[1-3" into "n]"). */
const unbalanced = ['n[1-3', 'n1-3]', 'n]', 'n[1-2,m3', 'a]b[1-2]'];

describe('hostlist: Slurm 22.05 fixture (scontrol show hostnames / hostlist)', () => {
  it('the fixture holds cases of every kind', () => {
    assert.ok(Object.keys(cases.expand).length >= 10);
    assert.ok(cases.invalid.length >= 4);
    assert.ok(Object.keys(cases.compress).length >= 5);
  });
  for (const [input, expected] of Object.entries(cases.expand)) {
    it(`expands ${input}`, () => assert.deepEqual(expandHostlist(input), expected));
  }
  for (const input of cases.invalid) {
    it(`rejects ${input}`, () => assertRejected(input));
  }
  for (const [hosts, expected] of Object.entries(cases.compress)) {
    it(`compresses ${hosts} to ${expected}`, () => {
      const list = hosts.split(',');
      assert.equal(compressHostlist(list), expected);
      assert.deepEqual(expandHostlist(expected), list);
    });
  }
});

describe('hostlist: corners', () => {
  for (const [input, expected] of Object.entries(slurmCorners)) {
    it(`expands ${JSON.stringify(input)} as Slurm does`, () => assert.deepEqual(expandHostlist(input), expected));
  }
  for (const input of [...slurmRejects, ...unbalanced]) {
    it(`rejects ${JSON.stringify(input)}`, () => assertRejected(input));
  }
  it(`accepts exactly ${MAX_HOSTS_PER_RANGE} hosts in one range`, () => {
    const hosts = expandHostlist(`n[0-${MAX_HOSTS_PER_RANGE - 1}]`);
    assert.equal(hosts.length, MAX_HOSTS_PER_RANGE);
    assert.equal(hosts[MAX_HOSTS_PER_RANGE - 1], `n${MAX_HOSTS_PER_RANGE - 1}`);
    assert.match(errorOf(`n[0-${MAX_HOSTS_PER_RANGE}]`), /more than 65536 hosts/);
  });
  it('names the input and the reason in one line', () => {
    const msg = errorOf('x[8-10]-ib');
    assert.match(msg, /x\[8-10\]-ib/);
    assert.match(msg, /after the last/);
    assert.match(errorOf('n[10-1]'), /low bound above high bound/);
    assert.match(errorOf('n[1-3'), /unbalanced/);
  });
  it('compresses as scontrol show hostlist does', () => {
    const expected: Record<string, string> = {
      'n1,n1': 'n[1,1]',
      'n,n1': 'n,n1',
      'n9,n10': 'n[9-10]',
      'n99,n100': 'n[99-100]',
      'n9,n010': 'n[9,010]',
      'n1,n01': 'n[1,01]',
      '1,2,3': '[1-3]',
      'n1,n2,m1,n3': 'n[1-2],m1,n3',
      'a1b3,a1b4,a2b3': 'a1b[3-4],a2b3',
      'x01.ib,x02.ib': 'x01.ib,x02.ib',
      'n001,n2,n3': 'n[001,2-3]',
      'h,h': 'h,h',
    };
    for (const [hosts, want] of Object.entries(expected)) {
      assert.equal(compressHostlist(hosts.split(',')), want, hosts);
    }
    assert.equal(compressHostlist([]), '');
  });
  it('refuses host names that cannot live in a hostlist', () => {
    for (const bad of ['', 'a,b', 'a b', 'n[1]']) {
      assert.throws(() => compressHostlist([bad]), /cannot put host name/);
    }
  });
  it('expand(compress(x)) == x for many generated lists', () => {
    const rand = seeded(42);
    for (let t = 0; t < 500; t++) {
      const hosts = randomHosts(rand);
      assert.deepEqual(expandHostlist(compressHostlist(hosts)), hosts, hosts.join(','));
    }
  });
});

describe('hostlist: live comparison with scontrol', function () {
  const hasScontrol = spawnSync('scontrol', ['--help']).error === undefined;
  let dir = '';
  before(function () {
    if (!hasScontrol) {
      console.log('    (skipped: scontrol is not installed on this machine)');
      this.skip();
    }
    // scontrol show hostnames needs a slurm.conf to exist, not a controller.
    dir = mkdtempSync(join(tmpdir(), 'stasis-hostlist-'));
    writeFileSync(join(dir, 'slurm.conf'), 'ClusterName=hl\nSlurmctldHost=localhost\nNodeName=n[1-4] CPUs=1\n');
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  const scontrol = (...args: string[]) => {
    const r = spawnSync('scontrol', args, { env: { ...process.env, SLURM_CONF: join(dir, 'slurm.conf') } });
    const err = r.stderr.toString();
    if (/Invalid hostlist|error/.test(err)) return null;
    return r.stdout.toString().split('\n').filter(Boolean);
  };

  it('expands and rejects every corner the way scontrol does', () => {
    const inputs = [...Object.keys(cases.expand), ...cases.invalid, ...Object.keys(slurmCorners), ...slurmRejects];
    for (const input of inputs.filter((s) => s.trim() !== '')) {
      const theirs = scontrol('show', 'hostnames', input);
      let ours: string[] | null;
      try {
        ours = expandHostlist(input);
      } catch {
        ours = null;
      }
      assert.deepEqual(ours, theirs, input);
    }
  });
  it('compresses generated lists exactly as scontrol show hostlist', () => {
    const rand = seeded(7);
    for (let t = 0; t < 60; t++) {
      const hosts = randomHosts(rand);
      assert.deepEqual([compressHostlist(hosts)], scontrol('show', 'hostlist', hosts.join(',')), hosts.join(','));
    }
  });
});

function errorOf(input: string): string {
  try {
    expandHostlist(input);
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail(`expected ${JSON.stringify(input)} to be rejected`);
}

function assertRejected(input: string): void {
  const msg = errorOf(input);
  assert.ok(msg.includes(input), `message names the input: ${msg}`);
  assert.ok(!msg.includes('\n'), 'one line');
}

/** Small deterministic generator so a failing list can be reproduced. */
function seeded(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

function randomHosts(rand: (n: number) => number): string[] {
  const prefixes = ['n', 'n', 'gpu', 'a1b', 'rack-2-', ''];
  const hosts: string[] = [];
  let num = rand(15);
  for (let i = 0, len = 1 + rand(12); i < len; i++) {
    num = rand(3) ? num + 1 : rand(120);
    const prefix = prefixes[rand(prefixes.length)] ?? 'n';
    hosts.push(rand(10) ? prefix + String(num).padStart(rand(4), '0') : 'login');
  }
  return hosts;
}
