import { Card, CardBody, CardTitle, Gallery } from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import type { AuditRecord } from '@tapgate/contracts';
import { api, ok } from '../api';
import { PageBody, Toast, useLoad } from '../ui';
import type { InheritedValues, TerminalView } from '../views';

const WINDOW_MINUTES = 60;

interface Overview {
  ready: { ready: boolean; nats: boolean; buckets: boolean } | undefined;
  missing: string[];
  terminals: TerminalView[];
  decisions: AuditRecord[];
}

/**
 * What the API offers about the last hour: the decision trail (logins and e-signatures, per minute, and
 * refusals by reason), the terminals' connection state, and service health (the policy service's readiness;
 * which services have reported their configuration).
 */
async function overview(): Promise<Overview> {
  const from = new Date(Date.now() - WINDOW_MINUTES * 60_000).toISOString();
  const to = new Date(Date.now() + 60_000).toISOString();
  const [ready, inherited, terminals, decisions] = await Promise.all([
    fetch('/readyz').then(
      (r) => r.json() as Promise<Overview['ready']>,
      () => undefined,
    ),
    ok<InheritedValues>(api.GET('/v1/policies/inherited')),
    ok<{ items: TerminalView[] }>(api.GET('/v1/terminals')),
    ok<Array<{ record: AuditRecord }>>(
      api.GET('/v1/audit/export', { params: { query: { from, to, format: 'json' } as never } }),
    ),
  ]);
  return {
    ready,
    missing: inherited.baseline.missing,
    terminals: terminals.items,
    decisions: decisions.map((d) => d.record),
  };
}

export function Dashboard() {
  const { data, error } = useLoad(overview);
  const perMinute = new Map<number, number>();
  const refusals = new Map<string, number>();
  const now = Math.floor(Date.now() / 60_000);
  for (const d of data?.decisions ?? []) {
    const minute = Math.floor(Date.parse(d.at) / 60_000);
    perMinute.set(minute, (perMinute.get(minute) ?? 0) + 1);
    if (d.outcome === 'refused') {
      refusals.set(d.reason ?? 'unknown', (refusals.get(d.reason ?? 'unknown') ?? 0) + 1);
    }
  }
  const minutes = Array.from({ length: WINDOW_MINUTES }, (_, i) => now - WINDOW_MINUTES + 1 + i);
  const peak = Math.max(1, ...minutes.map((m) => perMinute.get(m) ?? 0));
  const online = (data?.terminals ?? []).filter((t) => t.activity?.connection?.state === 'online').length;
  return (
    <PageBody title="Dashboard">
      <Toast notice={error ? { variant: 'danger', text: error } : undefined} />
      {data ? (
        <Gallery hasGutter minWidths={{ default: '280px' }}>
          <Card id="health">
            <CardTitle component="h3">Service health</CardTitle>
            <CardBody>
              <p>{`policy: ${data.ready?.ready ? 'ready' : 'not ready'} (NATS ${data.ready?.nats ? 'connected' : 'disconnected'})`}</p>
              <p>
                {data.missing.length === 0
                  ? 'user-status and gateway: reporting their configuration'
                  : `not reporting: ${data.missing.join(', ')}`}
              </p>
              <p>{`terminals: ${online} online of ${data.terminals.length}`}</p>
            </CardBody>
          </Card>
          <Card id="per-minute">
            <CardTitle component="h3">Decisions per minute, last hour</CardTitle>
            <CardBody>
              <p>{`${data.decisions.length} decisions (logins and e-signatures); peak ${peak} a minute`}</p>
              <div
                className="tg-bars"
                role="img"
                aria-label={`Decisions per minute over the last hour, peak ${peak}`}
              >
                {minutes.map((m) => (
                  <div
                    key={m}
                    className="tg-bar"
                    style={{ height: `${((perMinute.get(m) ?? 0) / peak) * 100}%` }}
                  />
                ))}
              </div>
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
                  {[...refusals]
                    .sort((a, b) => b[1] - a[1])
                    .map(([reason, n]) => (
                      <Tr key={reason}>
                        <Td>{reason}</Td>
                        <Td>{n}</Td>
                      </Tr>
                    ))}
                  {refusals.size === 0 ? (
                    <Tr>
                      <Td colSpan={2}>No refusals in the last hour.</Td>
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
