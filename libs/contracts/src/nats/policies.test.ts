import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  combineBaselines,
  effectivePolicy,
  fieldsDecidedWithoutGroups,
  type BaselineSettings,
  type PolicyRecord,
  type ServiceBaseline,
} from './policies';

const stamp = { by: 't', at: '2026-01-01T00:00:00.000Z' };
const base: BaselineSettings = {
  activeDirectory: { checkUserStatus: true, cacheUserStatus: true, cacheExpirySeconds: 45 },
  tap: { allowBleTaps: true, allowUidTaps: false, requirePresence: true },
  esign: { secondSignerMustDiffer: true, ceremonyTimeoutSeconds: 90.5 },
};
const policy = (
  p: Partial<PolicyRecord> & Pick<PolicyRecord, 'policyId' | 'kind' | 'settings'>,
): PolicyRecord => ({
  v: 1,
  name: p.policyId,
  active: true,
  created: stamp,
  updated: stamp,
  ...p,
});
const policies = [
  policy({
    policyId: 'default',
    kind: 'default',
    settings: { activeDirectory: { cacheExpirySeconds: 900 } },
  }),
  policy({
    policyId: 'b',
    kind: 'group',
    group: 'Ops',
    priority: 2,
    settings: { tap: { requirePresence: false } },
  }),
  policy({
    policyId: 'a',
    kind: 'group',
    group: 'CN=Fast,CN=Users,DC=t',
    priority: 1,
    settings: { tap: { requirePresence: true }, activeDirectory: { cacheExpirySeconds: 30 } },
  }),
  policy({
    policyId: 'off',
    kind: 'group',
    group: 'Ops',
    active: false,
    settings: { tap: { allowUidTaps: true } },
  }),
  policy({
    policyId: 'u',
    kind: 'user',
    user: 'Olga',
    settings: { activeDirectory: { cacheUserStatus: false } },
  }),
];

describe('effectivePolicy', () => {
  it('applies baseline < default < groups by ascending priority < user, per field, and explains each', () => {
    const e = effectivePolicy(
      policies,
      { sAMAccountName: 'olga', groups: ['CN=Ops,CN=Users,DC=t', 'CN=Fast,CN=Users,DC=t'] },
      base,
    );
    assert.deepEqual(e.settings, {
      activeDirectory: { checkUserStatus: true, cacheUserStatus: false, cacheExpirySeconds: 30 },
      tap: { allowBleTaps: true, allowUidTaps: false, requirePresence: false },
      esign: { secondSignerMustDiffer: true, ceremonyTimeoutSeconds: 90.5 },
    });
    assert.deepEqual(e.explain['tap.requirePresence'], { kind: 'group', policyId: 'b', name: 'b' });
    assert.deepEqual(e.explain['tap.allowBleTaps'], { kind: 'baseline', service: 'ws-gateway' });
    assert.deepEqual(e.explain['activeDirectory.checkUserStatus'], {
      kind: 'baseline',
      service: 'user-status',
    });
    assert.deepEqual(
      e.applied.map((r) => ('policyId' in r ? r.policyId : r.kind)),
      ['default', 'a', 'b', 'u'],
    );
  });

  it('computes only the sections of the base it is given', () => {
    const e = effectivePolicy(policies, { groups: [] }, { activeDirectory: base.activeDirectory });
    assert.deepEqual(Object.keys(e.settings), ['activeDirectory']);
    assert.equal(e.settings.activeDirectory.cacheExpirySeconds, 900);
  });
});

describe('fieldsDecidedWithoutGroups', () => {
  const fields = [
    'activeDirectory.cacheExpirySeconds',
    'activeDirectory.cacheUserStatus',
    'esign.secondSignerMustDiffer',
  ];
  it('counts a field as decided when the user sets it or no active group policy does', () => {
    assert.deepEqual([...fieldsDecidedWithoutGroups(policies, { sAMAccountName: 'olga' }, fields)].sort(), [
      'activeDirectory.cacheUserStatus',
      'esign.secondSignerMustDiffer',
    ]);
  });
  it('without a sAMAccountName, a field any user policy sets is not decided', () => {
    assert.deepEqual([...fieldsDecidedWithoutGroups(policies, {}, fields)], ['esign.secondSignerMustDiffer']);
  });
});

describe('combineBaselines', () => {
  const report = (instance: string, requirePresence: boolean, at: number): ServiceBaseline => ({
    v: 1,
    service: 'ws-gateway',
    instance,
    at: new Date(at).toISOString(),
    settings: { tap: { ...base.tap, requirePresence } },
    keys: { 'tap.requirePresence': '[gateway] require_presence' },
  });
  it('takes the newest live report, lists disagreements and services that never reported', () => {
    const now = Date.parse('2026-01-01T01:00:00Z');
    const r = combineBaselines(
      [report('gw2', false, now - 1000), report('gw1', true, now - 2000)],
      base,
      now,
    );
    assert.equal(r.settings.tap.requirePresence, false);
    assert.deepEqual(r.missing, ['user-status']);
    assert.deepEqual(r.conflicts, [
      {
        field: 'tap.requirePresence',
        values: [
          { instance: 'gw1', value: true },
          { instance: 'gw2', value: false },
        ],
      },
    ]);
    assert.equal(r.explain['activeDirectory.cacheExpirySeconds']?.kind, 'baseline');
  });
  it('ignores a stale replica while a live one reports, but keeps the only one', () => {
    const now = Date.parse('2026-01-01T01:00:00Z');
    const stale = report('old', false, now - 10 * 60_000);
    assert.equal(combineBaselines([stale, report('new', true, now)], base, now).conflicts.length, 0);
    assert.equal(
      combineBaselines([stale], { ...base, tap: { ...base.tap, requirePresence: true } }, now).settings.tap
        .requirePresence,
      false,
    );
  });
});
