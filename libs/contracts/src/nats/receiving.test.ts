import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { z } from 'zod';
import { AssertionClaims, AuditRecord } from './audit';
import { EnrollmentSessionRecord, EnrollmentStationCommand } from './enrollment-sessions';
import { PolicyRecord, ServiceBaseline } from './policies';
import { receiving } from './receiving';
import { ApplicationRecord, EnrollmentRecord, TerminalRecord } from './records';
import {
  AdminAuditRecord,
  AdvertBatch,
  DeliveryAck,
  OpenCeremonyRecord,
  PresenceAnswer,
  PresenceChange,
  StatusAnswer,
  StatusQuery,
  TapDelivery,
  TapOutcome,
} from './subjects';

const at = '2026-11-30T12:00:00.000Z';
const hash = 'a'.repeat(64);
const actor = { by: 'admin', at };
const jwk = { kty: 'EC', crv: 'P-256', x: 'x'.repeat(43), y: 'y'.repeat(43) };
const decision = {
  outcome: 'granted',
  user: { sAMAccountName: 'alice', displayName: 'Alice' },
  status: 'active',
  identifiedBy: 'proof',
};
const band = { bandId: 'band-A', presence: 'yes', authenticated: true, terminals: [], lastSeen: at };

/**
 * One sample per message or record a service receives from another one (by family), with where a newer
 * writer might add a field (`nested`: a path to an object inside it), a required field to leave out,
 * and a known field to spoil.
 */
interface Case {
  family: string;
  name: string;
  schema: z.ZodType;
  sample: Record<string, unknown>;
  nested: string[];
  required: string;
  spoil: [string, unknown];
}
const cases: Case[] = [
  {
    family: 'gateway ↔ gateway delivery',
    name: 'TapDelivery',
    schema: TapDelivery,
    sample: { v: 1, tapId: 't1', terminalId: 'T-1', kind: 'nfc', bandId: 'band-A', decision, receivedAt: at },
    nested: ['decision', 'user'],
    required: 'decision',
    spoil: ['terminalId', 'no spaces allowed'],
  },
  {
    family: 'gateway ↔ gateway delivery',
    name: 'DeliveryAck',
    schema: DeliveryAck,
    sample: { v: 1, delivered: 0, stage: 'settled', refusal: { reason: 'same_signer', message: 'no' } },
    nested: ['refusal'],
    required: 'delivered',
    spoil: ['delivered', -1],
  },
  {
    family: 'gateway → console',
    name: 'TapOutcome',
    schema: TapOutcome,
    sample: { v: 1, terminalId: 'T-1', tapId: 't1', kind: 'nfc', decision, deliveredTo: 1, gateway: 'g', at },
    nested: ['decision'],
    required: 'gateway',
    spoil: ['kind', 'laser'],
  },
  {
    family: 'presence',
    name: 'AdvertBatch',
    schema: AdvertBatch,
    sample: {
      v: 1,
      terminalId: 'T-1',
      adverts: [{ bandId: 'band-A', rssi: -60, state: 'authenticated', seenAt: at }],
      receivedAt: at,
    },
    nested: ['adverts', '0'],
    required: 'adverts',
    spoil: ['adverts', []],
  },
  {
    family: 'presence',
    name: 'PresenceAnswer',
    schema: PresenceAnswer,
    sample: { v: 1, known: true, band: { ...band, terminals: [{ terminalId: 'T-1', rssi: -60 }] } },
    nested: ['band', 'terminals', '0'],
    required: 'known',
    spoil: ['known', 'yes'],
  },
  {
    family: 'presence',
    name: 'PresenceChange',
    schema: PresenceChange,
    sample: { v: 1, terminalId: 'T-1', after: band, at },
    nested: ['after'],
    required: 'after',
    spoil: ['at', 'yesterday'],
  },
  {
    family: 'user-status',
    name: 'StatusQuery',
    schema: StatusQuery,
    sample: { v: 1, user: { sAMAccountName: 'alice' } },
    nested: ['user'],
    required: 'user',
    spoil: ['user', { sAMAccountName: '' }],
  },
  {
    family: 'user-status',
    name: 'StatusAnswer',
    schema: StatusAnswer,
    sample: {
      v: 1,
      status: 'active',
      user: { sAMAccountName: 'alice' },
      evidence: { userAccountControl: '512' },
      source: 'directory',
      checkedAt: at,
      directoryObject: { objectGUID: '01234567-89ab-cdef-0123-456789abcdef' },
    },
    nested: ['directoryObject'],
    required: 'status',
    spoil: ['status', 'probably_fine'],
  },
  {
    family: 'KV records',
    name: 'EnrollmentRecord',
    schema: EnrollmentRecord,
    sample: {
      v: 1,
      bandId: 'band-A',
      user: { sAMAccountName: 'alice', dn: 'CN=alice,DC=x' },
      publicKey: jwk,
      active: true,
      created: actor,
      updated: actor,
    },
    nested: ['user'],
    required: 'active',
    spoil: ['active', 'yes'],
  },
  {
    family: 'KV records',
    name: 'TerminalRecord',
    schema: TerminalRecord,
    sample: {
      v: 1,
      terminalId: 'T-1',
      credentialSha256: hash,
      enabled: true,
      remoteClients: { addresses: ['10.0.0.1'], names: ['PC1'] },
      created: actor,
      updated: actor,
    },
    nested: ['remoteClients'],
    required: 'credentialSha256',
    spoil: ['enabled', 1],
  },
  {
    family: 'KV records',
    name: 'ApplicationRecord',
    schema: ApplicationRecord,
    sample: {
      v: 1,
      applicationId: 'pomsnet',
      displayName: 'POMSnet',
      enabled: true,
      terminals: ['*'],
      credentials: [{ credentialId: 'c1', credentialSha256: hash, created: actor }],
      created: actor,
      updated: actor,
    },
    nested: ['credentials', '0', 'created'],
    required: 'credentials',
    spoil: ['terminals', ['no spaces']],
  },
  {
    family: 'KV records',
    name: 'PolicyRecord',
    schema: PolicyRecord,
    sample: {
      v: 1,
      policyId: 'default',
      kind: 'default',
      name: 'Default',
      active: true,
      settings: { tap: { allowBleTaps: false } },
      created: actor,
      updated: actor,
    },
    nested: ['settings', 'tap'],
    required: 'settings',
    spoil: ['settings', { activeDirectory: { cacheExpirySeconds: 31 } }],
  },
  {
    family: 'KV records',
    name: 'ServiceBaseline',
    schema: ServiceBaseline,
    sample: {
      v: 1,
      service: 'ws-gateway',
      instance: 'gw-1',
      at,
      settings: { tap: { allowBleTaps: true, allowUidTaps: false, requirePresence: false } },
      keys: {},
    },
    nested: ['settings', 'tap'],
    required: 'service',
    spoil: ['service', 'toaster'],
  },
  {
    family: 'KV records',
    name: 'OpenCeremonyRecord',
    schema: OpenCeremonyRecord,
    sample: {
      v: 1,
      ceremonyId: 'c1',
      terminalId: 'T-1',
      gateway: 'g',
      reason: 'batch release',
      audience: 'pomsnet',
      secondSignerRequired: false,
      deadline: at,
    },
    nested: [],
    required: 'deadline',
    spoil: ['secondSignerRequired', 'no'],
  },
  {
    family: 'KV records',
    name: 'EnrollmentSessionRecord',
    schema: EnrollmentSessionRecord,
    sample: {
      v: 1,
      sessionId: '00000000-0000-4000-8000-000000000000',
      terminalId: 'T-1',
      user: { sAMAccountName: 'alice' },
      accept: ['band'],
      state: 'waiting',
      expiresAt: at,
      opened: { ...actor, via: 'bearer' },
      attempts: [],
    },
    nested: ['opened'],
    required: 'state',
    spoil: ['state', 'pondering'],
  },
  {
    family: 'enrollment by tap',
    name: 'EnrollmentStationCommand',
    schema: EnrollmentStationCommand,
    sample: {
      v: 1,
      action: 'arm',
      sessionId: '00000000-0000-4000-8000-000000000000',
      terminalId: 'T-1',
      expiresAt: at,
      accept: ['band', 'uid'],
    },
    nested: [],
    required: 'action',
    spoil: ['action', 'launch'],
  },
  {
    family: 'audit records',
    name: 'AuditRecord',
    schema: AuditRecord,
    sample: {
      v: 1,
      at,
      kind: 'login',
      terminalId: 'T-1',
      tapId: 't1',
      outcome: 'granted',
      decision,
      gateway: 'g',
      prevHash: hash,
      hash,
    },
    nested: ['decision'],
    required: 'hash',
    spoil: ['prevHash', 'not a hash'],
  },
  {
    family: 'audit records',
    name: 'AdminAuditRecord',
    schema: AdminAuditRecord,
    sample: {
      v: 1,
      at,
      actor: 'admin',
      via: 'bearer',
      action: 'policy.update',
      target: { type: 'p', id: 'x' },
    },
    nested: ['target'],
    required: 'action',
    spoil: ['via', 'telepathy'],
  },
  {
    family: 'assertions (relying parties)',
    name: 'AssertionClaims',
    schema: AssertionClaims,
    sample: {
      iss: 'tapgate',
      aud: 'pomsnet',
      sub: 'alice',
      iat: 1,
      exp: 2,
      jti: 'j1',
      tapgate: { kind: 'login', terminalId: 'T-1', tapId: 't1', status: 'active' },
    },
    nested: ['tapgate'],
    required: 'jti',
    spoil: ['tapgate', { kind: 'coffee', terminalId: 'T-1', tapId: 't1', status: 'active' }],
  },
];

const clone = <T>(v: T): T => structuredClone(v);
/** The object at `path` inside `root`. */
function inside(root: Record<string, unknown>, path: string[]): Record<string, unknown> {
  return path.reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, root);
}

describe('receiving(): what a service accepts from a newer one (docs/protocol.md §11)', () => {
  for (const c of cases) {
    describe(`${c.family}: ${c.name}`, () => {
      it('the sample is valid for the writer', () => {
        assert.equal(
          c.schema.safeParse(c.sample).success,
          true,
          JSON.stringify(c.schema.safeParse(c.sample)),
        );
      });

      it('a field it does not know, at the top and nested, is dropped, not refused', () => {
        const newer = clone(c.sample);
        newer.addedLater = { anything: 1 };
        inside(newer, c.nested).alsoAddedLater = 'x';
        // The writer's schema stays strict: this is what an older receiver did before, and refused.
        assert.equal(c.schema.safeParse(newer).success, false);
        const read = receiving(c.schema).safeParse(newer);
        assert.equal(read.success, true, JSON.stringify(read.error?.issues));
        assert.deepEqual(read.data, c.schema.parse(c.sample));
      });

      it('a missing required field is still refused', () => {
        const newer = clone(c.sample);
        newer.addedLater = true;
        delete newer[c.required];
        assert.equal(receiving(c.schema).safeParse(newer).success, false);
      });

      it('an invalid known field is still refused', () => {
        const newer = clone(c.sample);
        newer.addedLater = true;
        newer[c.spoil[0]] = c.spoil[1];
        assert.equal(receiving(c.schema).safeParse(newer).success, false);
      });
    });
  }

  it('keeps refinements across fields: a band record without a key, a group policy without a group', () => {
    const enrollment = clone(cases.find((c) => c.name === 'EnrollmentRecord')!.sample);
    delete enrollment.publicKey;
    enrollment.addedLater = 1;
    assert.equal(receiving(EnrollmentRecord).safeParse(enrollment).success, false);
    const policy = { ...cases.find((c) => c.name === 'PolicyRecord')!.sample, policyId: 'p', kind: 'group' };
    assert.equal(receiving(PolicyRecord).safeParse(policy).success, false);
    assert.equal(receiving(PolicyRecord).safeParse({ ...policy, group: 'Line 3' }).success, true);
  });

  it('leaves the writer schema strict and returns one copy per schema', () => {
    assert.equal(receiving(TapDelivery), receiving(TapDelivery));
    assert.notEqual(receiving(TapDelivery), TapDelivery);
    assert.equal(TapDelivery.safeParse({ ...cases[0].sample, extra: 1 }).success, false);
  });
});
