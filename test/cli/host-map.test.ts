// Where `stasis restart` puts each old host's processes (src/cli/host-map.ts).
import assert from 'node:assert/strict';
import { parseHostMap, parseHosts, placeHosts } from '../../src/cli/host-map.js';
import { movedEnv, staying } from '../../src/cli/restart-hosts.js';

const placed = (m: Map<string, string | null>) => Object.fromEntries(m);

describe('restart: old hosts onto new ones', () => {
  const table: Array<[string, string[], Parameters<typeof placeHosts>[1], Record<string, string | null>]> = [
    ['one host, no flags, no allocation: here', ['n2'], {}, { n2: null }],
    ['several hosts, no flags, no allocation: where they ran', ['n2', 'n3'], {}, { n2: 'n2', n3: 'n3' }],
    ['--host-map n2=n4,n3=n1', ['n2', 'n3'], { hostMap: new Map([['n2', 'n4'], ['n3', 'n1']]) }, { n2: 'n4', n3: 'n1' }],
    ['--host-map both onto one', ['n2', 'n3'], { hostMap: new Map([['n2', 'n1'], ['n3', 'n1']]) }, { n2: 'n1', n3: 'n1' }],
    ['--hosts as many as old hosts: in turn', ['n2', 'n3'], { hosts: ['n4', 'n1'] }, { n2: 'n4', n3: 'n1' }],
    ['--hosts fewer: several onto one, in blocks', ['a', 'b', 'c', 'd'], { hosts: ['x', 'y'] }, { a: 'x', b: 'x', c: 'y', d: 'y' }],
    ['--hosts one: all onto it', ['a', 'b', 'c'], { hosts: ['x'] }, { a: 'x', b: 'x', c: 'x' }],
    ['--hosts more: the first ones', ['a', 'b'], { hosts: ['x', 'y', 'z'] }, { a: 'x', b: 'y' }],
    ['allocation: its nodes in order', ['a', 'b'], { allocation: ['n3', 'n4'] }, { a: 'n3', b: 'n4' }],
    ['--hosts wins over the allocation', ['a'], { hosts: ['x'], allocation: ['n3'] }, { a: 'x' }],
    ['--host-map wins over --hosts', ['a'], { hostMap: new Map([['a', 'm']]), hosts: ['x'] }, { a: 'm' }],
  ];
  for (const [what, old, opts, want] of table) it(what, () => assert.deepEqual(placed(placeHosts(old, opts)), want));

  it('a host in the image with no mapping: one line naming it', () => {
    assert.throws(() => placeHosts(['n2', 'n3'], { hostMap: new Map([['n2', 'n4']]) }),
      { message: 'restart: n3 in the image has no mapping: add n3=NEW to --host-map' });
  });

  it('parses --host-map (repeatable, comma-separated) and refuses bad items', () => {
    assert.deepEqual([...parseHostMap(['n2=n4,n3=n1', 'n5=n1'])], [['n2', 'n4'], ['n3', 'n1'], ['n5', 'n1']]);
    for (const bad of ['n2', '=n4', 'n2=', 'n2=a=b', ''])
      assert.throws(() => parseHostMap([bad]), /--host-map '.*': want OLD=NEW/, bad);
    assert.throws(() => parseHostMap(['n2=n4,n2=n1']), /n2 mapped twice/);
    assert.deepEqual(parseHosts('n1,n2'), ['n1', 'n2']);
    assert.throws(() => parseHosts('n1,,n2'), /--hosts 'n1,,n2'/);
  });
});

describe('which loaders may move a listener off a taken port (STASIS_RESTORED_FROM)', () => {
  it('only an old host that stays alone where it ran keeps its ports strictly', () => {
    // n1..n4 onto n2,n4: n2 and n4 stay but share with n1 and n3, which move.
    assert.deepEqual(staying([['n1', 'n2'], ['n2', 'n2'], ['n3', 'n4'], ['n4', 'n4']].map(([oldHost, newHost]) => ({ oldHost: oldHost!, newHost: newHost! }))),
      [false, false, false, false]);
    assert.deepEqual(staying([{ oldHost: 'n1', newHost: 'n1' }, { oldHost: 'n2', newHost: 'n3' }]), [true, false]);
    // Two trees of one old host on it: still alone (its own processes' ports never collided).
    assert.deepEqual(staying([{ oldHost: 'n1', newHost: 'n1' }, { oldHost: 'n1', newHost: 'n1' }]), [true, true]);
  });

  it('the loader of a tree that moved gets the old host, one that stays does not', () => {
    assert.equal(movedEnv({ A: '1' }, 'n3', false).STASIS_RESTORED_FROM, 'n3');
    assert.equal(movedEnv({ STASIS_RESTORED_FROM: 'x' }, 'n3', true).STASIS_RESTORED_FROM, undefined);
  });
});
