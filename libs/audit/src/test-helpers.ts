import { connectMessaging, type Messaging } from '@tapgate/messaging';
import { startNats, type TestServer } from '@tapgate/testing';
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

export { sampleDecision as decision, appendSampleRecords as fillTrail } from './samples';
