import type { AuditRecord } from '@tapgate/contracts';
import { connectMessaging, type Messaging } from '@tapgate/messaging';
import { startNats, type TestServer } from '@tapgate/testing';
import { AUDIT_SUBJECT } from '@tapgate/contracts';
import { chainRecord } from './chain';
import type { AuditInput } from './chain';
import { AuditTrail, type AuditTrailOptions } from './trail';

/** A private NATS with the audit stream created, and as many trails (own connections) as asked. */
export async function freshTrails(n = 1, opts: AuditTrailOptions = {}) {
  const nats: TestServer = await startNats();
  const connections: Messaging[] = [];
  const trails: AuditTrail[] = [];
  for (let i = 0; i < n; i++) {
    const m = connectMessaging({ servers: [nats.url], name: `audit-test-${i}` });
    connections.push(m);
    trails.push(new AuditTrail(m, opts));
  }
  await trails[0].ensureStream();
  return {
    nats,
    trails,
    connections,
    trail: trails[0],
    async dispose() {
      await Promise.all(trails.map((t) => t.close()));
      await Promise.all(connections.map((c) => c.close()));
      await nats.dispose();
    },
  };
}

let tapCounter = 0;

/** A plausible login decision record. */
export function decision(overrides: Partial<AuditInput> = {}): AuditInput {
  tapCounter += 1;
  const user: AuditRecord['user'] = { sAMAccountName: 'alice', displayName: 'Alice Able' };
  return {
    v: 1,
    at: new Date().toISOString(),
    kind: 'login',
    terminalId: 'LINE1-T04',
    tapId: `tap-${String(tapCounter).padStart(6, '0')}`,
    outcome: 'granted',
    user,
    status: 'active',
    decision: {
      outcome: 'granted',
      user,
      status: 'active',
      identifiedBy: 'proof',
      message: 'Welcome, Alice Able.',
    },
    assertionId: `jti-${tapCounter}`,
    audience: 'https://mes.example.com/NES',
    gateway: 'ws-gateway-0',
    ...overrides,
  };
}

/**
 * Appends `n` valid, chained records quickly (pipelined publishes, each conditional on the sequence
 * before it), after whatever the stream holds. For tests that need a large trail.
 */
export async function fillTrail(
  messaging: Messaging,
  trail: AuditTrail,
  n: number,
  make: (i: number) => AuditInput = () => decision(),
): Promise<void> {
  const report = await trail.verifyChain();
  if (!report.ok) throw new Error('fillTrail needs an intact chain');
  const js = (await messaging.connection()).jetstream();
  let prevHash = report.lastHash;
  let seq = report.lastSeq;
  let inFlight: Array<Promise<unknown>> = [];
  for (let i = 0; i < n; i++) {
    const record = chainRecord(make(i), prevHash);
    prevHash = record.hash;
    inFlight.push(js.publish(AUDIT_SUBJECT, JSON.stringify(record), { expect: { lastSequence: seq } }));
    seq += 1;
    if (inFlight.length >= 500) {
      await Promise.all(inFlight);
      inFlight = [];
    }
  }
  await Promise.all(inFlight);
}
