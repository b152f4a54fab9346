import { AUDIT_SUBJECT, type AuditRecord } from '@tapgate/contracts';
import type { Messaging } from '@tapgate/messaging';
import { chainRecord, type AuditInput } from './chain';
import type { AuditTrail } from './trail';

// Sample records for tests and benchmarks (here and in other packages' tests, through the index).

let tapCounter = 0;

/** A plausible login decision record. */
export function sampleDecision(overrides: Partial<AuditInput> = {}): AuditInput {
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
 * before it), after whatever the stream holds. For tests and benchmarks that need a large trail: it
 * bypasses the trail's own queue, so never run it beside gateways that append.
 */
export async function appendSampleRecords(
  messaging: Messaging,
  trail: AuditTrail,
  n: number,
  make: (i: number) => AuditInput = () => sampleDecision(),
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
