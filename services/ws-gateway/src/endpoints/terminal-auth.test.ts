import type { TerminalRecord } from '@tapgate/contracts';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { EndpointEvidence } from '../socket/connection';
import { endpointRefusal } from './terminal-auth';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const stamp = { by: 'test', at: '2026-01-01T00:00:00.000Z' };
const record = (over: Partial<TerminalRecord> = {}): TerminalRecord => ({
  v: 1,
  terminalId: 'T1',
  credentialSha256: sha('right'),
  enabled: true,
  created: stamp,
  updated: stamp,
  ...over,
});
const cert = (name: string) => ({ cn: 'T1', sha256: sha(`cert ${name}`) });
const ev = (o: { cert?: string; credential?: string }): EndpointEvidence => ({
  certificate: o.cert === undefined ? undefined : cert(o.cert),
  credentialSha256: o.credential === undefined ? undefined : sha(o.credential),
});

describe('endpointRefusal: one rule set for every kind of evidence', () => {
  const rows: Array<[string, TerminalRecord | undefined, EndpointEvidence, boolean, string | undefined]> = [
    ['certificate, enabled', record(), ev({ cert: 'a' }), true, undefined],
    ['credential, enabled', record(), ev({ credential: 'right' }), true, undefined],
    ['both right', record(), ev({ cert: 'a', credential: 'right' }), true, undefined],
    ['nothing presented', record(), ev({}), true, 'no credential and no client certificate'],
    ['nothing presented, credentials not required', record(), ev({}), false, undefined],
    ['unregistered, certificate', undefined, ev({ cert: 'a' }), true, 'unregistered terminal'],
    ['unregistered, credentials not required', undefined, ev({}), false, undefined],
    ['disabled, certificate', record({ enabled: false }), ev({ cert: 'a' }), true, 'terminal disabled'],
    ['disabled, credentials not required', record({ enabled: false }), ev({}), false, 'terminal disabled'],
    [
      'certificate + wrong credential',
      record(),
      ev({ cert: 'a', credential: 'wrong' }),
      true,
      'wrong credential',
    ],
    ['wrong credential, not required', record(), ev({ credential: 'wrong' }), false, 'wrong credential'],
    [
      'pinned, pinned certificate',
      record({ certificateSha256: [cert('a').sha256] }),
      ev({ cert: 'a' }),
      true,
      undefined,
    ],
    [
      'pinned, second pin (renewal)',
      record({ certificateSha256: [cert('a').sha256, cert('b').sha256] }),
      ev({ cert: 'b' }),
      true,
      undefined,
    ],
    [
      'pinned, other certificate',
      record({ certificateSha256: [cert('a').sha256] }),
      ev({ cert: 'b' }),
      true,
      'client certificate not pinned for this terminal (revoked or not yet pinned)',
    ],
    [
      'pinned, credential only',
      record({ certificateSha256: [cert('a').sha256] }),
      ev({ credential: 'right' }),
      true,
      'terminal has pinned certificates; none presented',
    ],
    [
      'empty pin list = no pinning',
      record({ certificateSha256: [] }),
      ev({ credential: 'right' }),
      true,
      undefined,
    ],
  ];
  for (const [what, rec, evidence, required, expected] of rows) {
    it(what, () => assert.equal(endpointRefusal(rec, evidence, required), expected));
  }
});
