import { SoftwareBand } from '@tapgate/band';
import type { AuditRecord } from '@tapgate/contracts';
import { AgentClient, ENDPOINT_SOFTWARE } from '@tapgate/endpoint-node';
import { startPolicy, type PolicyHarness, type TerminalLive } from '@tapgate/policy';
import { waitFor } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunningGateway } from './bootstrap';
import { neaClient, type RawClient } from './testing/clients';
import { GatewayTestStack, TEST_APP_ID, endpointUrl, neaUrl, serveUserStatuses } from './testing/stack';

const TERMINAL = 'CONN-T1';

interface ListedTerminal {
  terminalId: string;
  live: TerminalLive;
}
interface TerminalList {
  items: ListedTerminal[];
  gateways: { known: boolean; answered: string[] };
}
interface Page {
  items: Array<{ seq: number; record: AuditRecord }>;
  total: number;
  unreadable: number;
  missing: number;
}

/**
 * What the console's Terminals and Audit pages read, against two real gateway replicas and the real
 * policy service: the endpoint is on replica A, one application is bound explicitly on replica B and one
 * implicitly (by the endpoint's address) on replica A; every tap lands in the audit trail as kind `tap`.
 */
describe('terminals list from every gateway replica; every tap in the audit trail', () => {
  let stack: GatewayTestStack;
  let policy: PolicyHarness;
  let gwA: RunningGateway;
  let gwB: RunningGateway;
  let alice: SoftwareBand;
  let ep: AgentClient;
  let explicit: RawClient;
  let implicit: RawClient;
  const started = new Date(Date.now() - 1000).toISOString();
  const range = () =>
    `from=${encodeURIComponent(started)}&to=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`;
  const terminal = async (): Promise<ListedTerminal & { gateways: TerminalList['gateways'] }> => {
    const list = (await policy.api('GET', '/v1/terminals')).body as unknown as TerminalList;
    const t = list.items.find((i) => i.terminalId === TERMINAL);
    assert.ok(t, 'terminal listed');
    return { ...t, gateways: list.gateways };
  };

  before(async () => {
    stack = await GatewayTestStack.start();
    policy = await startPolicy(stack.nats.url);
    serveUserStatuses(stack.admin, { alice: 'active' });
    alice = await stack.enroll('alice');
    alice.clasp();
    alice.authenticate();
    [gwA, gwB] = await Promise.all([stack.gateway(), stack.gateway()]);
    for (const gw of [gwA, gwB]) {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`)).ok);
    }
    const created = await policy.api('POST', '/v1/terminals', { body: { terminalId: TERMINAL } });
    assert.equal(created.status, 201);
    ep = new AgentClient({
      url: endpointUrl(gwA),
      terminalId: TERMINAL,
      credential: (created.body as unknown as { credential: string }).credential,
    });
    ep.start();
    await waitFor(() => ep.connected, { what: 'endpoint connected' });
    explicit = await neaClient(neaUrl(gwB), TERMINAL);
    implicit = await neaClient(neaUrl(gwA));
  });
  after(async () => {
    explicit?.close();
    implicit?.close();
    await ep?.stop();
    await policy?.close();
    await stack.stop();
  });

  it('shows the endpoint online on replica A with the version from its package, and both applications bound', async () => {
    const t = await terminal();
    assert.equal(t.gateways.known, true);
    assert.equal(t.gateways.answered.length, 2, `answered: ${t.gateways.answered.join(', ')}`);
    assert.equal(t.live.state, 'online');
    const pkg = JSON.parse(
      readFileSync(join(__dirname, '..', '..', 'endpoint-node', 'package.json'), 'utf8'),
    ) as {
      version: string;
    };
    assert.deepEqual(t.live.endpoint?.software, { name: 'tapgate-endpoint-node', version: pkg.version });
    assert.deepEqual(ENDPOINT_SOFTWARE.version, pkg.version);
    assert.match(t.live.endpoint?.address ?? '', /127\.0\.0\.1/);
    const bound = t.live.applications
      .map((a) => `${a.binding}:${a.applicationId ?? '-'}:${a.gateway}`)
      .sort();
    const [idA, idB] = [
      t.live.endpoint.gateway,
      t.gateways.answered.find((g) => g !== t.live.endpoint!.gateway),
    ];
    assert.deepEqual(bound, [`explicit:${TEST_APP_ID}:${idB}`, `implicit:-:${idA}`].sort());
    assert.ok(t.live.applications.every((a) => a.app?.name === 'test-nea'));
  });

  it('writes every tap to the audit trail (kind tap, band id), also a tap no login used and an unknown band', async () => {
    const tap = (band: SoftwareBand) =>
      ep.tap({
        kind: 'nfc',
        bandId: band.bandId,
        sign: (c, tt) => band.answerTap({ challenge: c, terminalId: tt }),
      });
    assert.equal((await tap(alice)).decision.outcome, 'granted');
    const stranger = SoftwareBand.generate();
    stranger.clasp();
    stranger.authenticate();
    const unknown = await tap(stranger);
    assert.equal(unknown.decision.outcome, 'refused');
    const page = await waitFor(
      async () => {
        const p = (await policy.api('GET', `/v1/audit/decisions?kind=tap&terminal=${TERMINAL}&${range()}`))
          .body as unknown as Page;
        return p.total === 2 ? p : undefined;
      },
      { what: 'two tap records' },
    );
    assert.equal(page.unreadable + page.missing, 0);
    // Newest first: the unknown band, known only by its id, then alice's granted tap.
    const [first, second] = page.items.map((i) => i.record);
    assert.ok(page.items[0].seq > page.items[1].seq);
    assert.equal(first.bandId, stranger.bandId);
    assert.equal(first.user, undefined);
    assert.equal(first.outcome, 'refused');
    assert.equal(first.reason, unknown.decision.reason);
    assert.equal(second.bandId, alice.bandId);
    assert.equal(second.user?.sAMAccountName, 'alice');
    assert.equal(second.outcome, 'granted');
    // The user filter finds a band by its id too; the outcome filter narrows.
    const byBand = (
      await policy.api('GET', `/v1/audit/decisions?user=${stranger.bandId.slice(0, 12)}&${range()}`)
    ).body as unknown as Page;
    assert.deepEqual(
      byBand.items.map((i) => i.record.bandId),
      [stranger.bandId],
    );
    const granted = (await policy.api('GET', `/v1/audit/decisions?outcome=granted&kind=tap&${range()}`))
      .body as unknown as Page;
    assert.deepEqual(
      granted.items.map((i) => i.record.user?.sAMAccountName),
      ['alice'],
    );
    const summary = (await policy.api('GET', '/v1/audit/summary?minutes=5')).body as unknown as {
      taps: number;
      refusals: Array<{ reason: string; count: number }>;
    };
    assert.equal(summary.taps, 2);
    assert.deepEqual(summary.refusals, [{ reason: unknown.decision.reason, count: 1 }]);
  });

  it('shows the terminal offline once its endpoint leaves, with the implicit binding still matched by address', async () => {
    await ep.stop();
    const t = await waitFor(
      async () => {
        const x = await terminal();
        return x.live.state === 'offline' ? x : undefined;
      },
      { what: 'terminal offline' },
    );
    assert.equal(t.live.endpoint, undefined);
    assert.deepEqual(t.live.applications.map((a) => a.binding).sort(), ['explicit', 'implicit']);
  });
});
