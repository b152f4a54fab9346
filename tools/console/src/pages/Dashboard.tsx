import { Card, CardBody, CardTitle, Gallery } from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useEffect } from 'react';
import { api, message, ok } from '../api';
import { PageBody, Toast, useLoad } from '../ui';
import type { InheritedValues, SummaryView, TerminalList } from '../views';

const WINDOW_MINUTES = 60;
/** The counts are re-read from the trail this often while the page is open. */
const DASHBOARD_REFRESH_MS = 30_000;

interface Overview {
  ready: { ready: boolean; nats: boolean; buckets: boolean } | undefined;
  missing: string[];
  terminals: TerminalList;
  /** The trail's counts for the last hour, or why it could not be read. */
  summary: SummaryView | string;
}

/**
 * What the API offers about the last hour, all derived from existing sources (no counters of its own):
 * the audit trail's tap records (per minute, refusals by reason), the gateways' live connections, and
 * the policy service's readiness (NATS, KV buckets) and the services reporting their configuration.
 */
async function overview(): Promise<Overview> {
  const [ready, inherited, terminals, summary] = await Promise.all([
    fetch('/readyz').then(
      (r) => r.json() as Promise<Overview['ready']>,
      () => undefined,
    ),
    ok<InheritedValues>(api.GET('/v1/policies/inherited')),
    ok<TerminalList>(api.GET('/v1/terminals')),
    ok<SummaryView>(
      api.GET('/v1/audit/summary', { params: { query: { minutes: WINDOW_MINUTES } as never } }),
    ).catch((e: unknown) => message(e)),
  ]);
  return { ready, missing: inherited.baseline.missing, terminals, summary };
}

const count = (by: Record<string, number>) =>
  Object.entries(by)
    .map(([outcome, n]) => `${n} ${outcome}`)
    .join(', ') || 'none';

export function Dashboard() {
  const { data, error, reload } = useLoad(overview);
  useEffect(() => {
    const timer = setInterval(reload, DASHBOARD_REFRESH_MS);
    return () => clearInterval(timer);
  }, [reload]);
  const s = typeof data?.summary === 'object' ? data.summary : undefined;
  const peak = Math.max(1, ...(s?.perMinute ?? []).map((m) => m.taps));
  const terminals = data?.terminals.items ?? [];
  const online = terminals.filter((t) => t.live.state === 'online').length;
  const gw = data?.terminals.gateways;
  const minutes = s?.perMinute.slice(-WINDOW_MINUTES) ?? [];
  return (
    <PageBody title="Dashboard">
      <Toast notice={error ? { variant: 'danger', text: error } : undefined} />
      {data ? (
        <Gallery hasGutter minWidths={{ default: '280px' }}>
          <Card id="health">
            <CardTitle component="h3">Service health</CardTitle>
            <CardBody>
              <p>{`policy: ${data.ready?.ready ? 'ready' : 'not ready'} (NATS ${data.ready?.nats ? 'connected' : 'disconnected'}, KV buckets ${data.ready?.buckets ? 'open' : 'not open'})`}</p>
              <p>
                {gw?.known
                  ? `gateways: ${gw.answered.length} replica${gw.answered.length === 1 ? '' : 's'} answering`
                  : `gateways: not reachable (${gw?.why ?? 'unknown'})`}
              </p>
              <p>
                {typeof data.summary === 'string'
                  ? `audit trail: not readable (${data.summary})`
                  : data.summary.unreadable + data.summary.missing > 0
                    ? `audit trail: ${data.summary.unreadable + data.summary.missing} sequences of the last hour unreadable or missing; run Verify on the Audit page`
                    : 'audit trail: readable'}
              </p>
              <p>
                {data.missing.length === 0
                  ? 'user-status and gateway: reporting their configuration'
                  : `not reporting: ${data.missing.join(', ')}`}
              </p>
              <p>{`terminals: ${online} online of ${terminals.length}`}</p>
            </CardBody>
          </Card>
          <Card id="per-minute">
            <CardTitle component="h3">Taps per minute, last hour</CardTitle>
            <CardBody>
              {s ? (
                <>
                  <p>{`${s.taps} taps; peak ${peak} a minute`}</p>
                  <div
                    className="tg-bars"
                    role="img"
                    aria-label={`Taps per minute over the last hour, peak ${peak}`}
                  >
                    {minutes.map((m) => (
                      <div
                        key={m.minute}
                        className="tg-bar"
                        title={`${new Date(m.minute).toLocaleTimeString()}: ${m.taps} taps, ${m.refused} refused`}
                        style={{ height: `${(m.taps / peak) * 100}%` }}
                      />
                    ))}
                  </div>
                  <p id="uses">{`logins: ${count(s.logins)}; e-signatures: ${count(s.esigns)}`}</p>
                </>
              ) : (
                <p>The audit trail could not be read.</p>
              )}
            </CardBody>
          </Card>
          <Card>
            <CardTitle component="h3">Refusals by reason, last hour</CardTitle>
            <CardBody>
              <Table id="refusals" aria-label="Refusals by reason" variant="compact">
                <Thead>
                  <Tr>
                    <Th>Reason</Th>
                    <Th>Refusals</Th>
                  </Tr>
                </Thead>
                <Tbody>
                  {(s?.refusals ?? []).map(({ reason, count: n }) => (
                    <Tr key={reason}>
                      <Td>{reason}</Td>
                      <Td>{n}</Td>
                    </Tr>
                  ))}
                  {s && s.refusals.length === 0 ? (
                    <Tr>
                      <Td colSpan={2}>No refused taps in the last hour.</Td>
                    </Tr>
                  ) : null}
                </Tbody>
              </Table>
            </CardBody>
          </Card>
        </Gallery>
      ) : null}
    </PageBody>
  );
}
