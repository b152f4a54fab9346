import {
  Button,
  FormSelect,
  FormSelectOption,
  Pagination,
  SearchInput,
  Tab,
  TabTitleText,
  Tabs,
  Toolbar,
  ToolbarContent,
  ToolbarItem,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import type { AuditRecord } from '@tapgate/contracts';
import { useEffect, useMemo, useState } from 'react';
import { api, message, ok } from '../api';
import { PageBody, Toast, changes, when } from '../ui';
import type { AdminChange } from '../views';

const PERIODS = [
  ['1', 'last hour'],
  ['24', 'last 24 hours'],
  ['168', 'last 7 days'],
  ['720', 'last 30 days'],
  ['all', 'everything'],
] as const;

/** The query of a period: from/to as ISO times, or nothing for the whole trail. */
function period(hours: string): { from?: string; to?: string } {
  if (hours === 'all') return {};
  return {
    from: new Date(Date.now() - Number(hours) * 3_600_000).toISOString(),
    to: new Date(Date.now() + 60_000).toISOString(),
  };
}

interface Result {
  text: string;
  bad: boolean;
}

/** Hands a Blob to the browser as a file download. */
function saveBlob(blob: Blob, name: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
}

export function Audit() {
  const [tab, setTab] = useState<'decisions' | 'admin'>('decisions');
  const [hours, setHours] = useState('24');
  const [filter, setFilter] = useState('');
  return (
    <PageBody title="Audit">
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem>
            <FormSelect id="audit-hours" aria-label="Period" value={hours} onChange={(_e, v) => setHours(v)}>
              {PERIODS.map(([v, label]) => (
                <FormSelectOption key={v} value={v} label={label} />
              ))}
            </FormSelect>
          </ToolbarItem>
          <ToolbarItem>
            <SearchInput
              id="audit-filter"
              aria-label="Filter (user, terminal, action, outcome, reason)"
              placeholder="Filter"
              value={filter}
              onChange={(_e, v) => setFilter(v)}
              onClear={() => setFilter('')}
            />
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      <Tabs
        activeKey={tab}
        onSelect={(_e, k) => setTab(k === 'admin' ? 'admin' : 'decisions')}
        aria-label="Audit logs"
      >
        <Tab eventKey="decisions" id="tab-decisions" title={<TabTitleText>Decisions</TabTitleText>}>
          {tab === 'decisions' ? <Decisions hours={hours} filter={filter} /> : null}
        </Tab>
        <Tab eventKey="admin" id="tab-admin" title={<TabTitleText>Administrator changes</TabTitleText>}>
          {tab === 'admin' ? <AdminChanges hours={hours} filter={filter} /> : null}
        </Tab>
      </Tabs>
    </PageBody>
  );
}

function usePaging<T>(rows: T[]) {
  const [page, setPage] = useState(1);
  const [perPage, setPerPage] = useState(50);
  useEffect(() => setPage(1), [rows]);
  const shown = rows.slice((page - 1) * perPage, page * perPage);
  const pager = (
    <Pagination
      id="audit-pages"
      itemCount={rows.length}
      page={page}
      perPage={perPage}
      onSetPage={(_e, p) => setPage(p)}
      onPerPageSelect={(_e, n) => (setPerPage(n), setPage(1))}
      isCompact
    />
  );
  return { shown, pager };
}

const matches = (value: unknown, f: string) =>
  !f || JSON.stringify(value).toLowerCase().includes(f.toLowerCase());

function Decisions(props: { hours: string; filter: string }) {
  const [all, setAll] = useState<Array<{ seq: number; record: AuditRecord }>>();
  const [status, setStatus] = useState('Loading…');
  const [result, setResult] = useState<Result>();
  useEffect(() => {
    setAll(undefined);
    setStatus('Loading…');
    ok<Array<{ seq: number; record: AuditRecord }>>(
      api.GET('/v1/audit/export', {
        params: { query: { ...period(props.hours), format: 'json' } as never },
        parseAs: 'json',
      }),
    ).then(
      (list) => {
        // Newest first.
        setAll([...list].reverse());
        setStatus(`${list.length} records`);
      },
      (e: unknown) => setStatus(message(e)),
    );
  }, [props.hours]);
  const rows = useMemo(() => (all ?? []).filter((r) => matches(r.record, props.filter)), [all, props.filter]);
  const loaded = all?.length;
  const { shown, pager } = usePaging(rows);

  const exportFile = async (format: 'csv' | 'json') => {
    setResult({ text: `Exporting ${format.toUpperCase()}…`, bad: false });
    try {
      const r = await api.GET('/v1/audit/export', {
        params: { query: { ...period(props.hours), format } as never },
        parseAs: 'blob',
      });
      if (!r.response.ok) throw new Error(`HTTP ${r.response.status}`);
      const h = (n: string) => r.response.headers.get(`x-tapgate-audit-${n}`) ?? '?';
      const name =
        /filename="([^"]+)"/.exec(r.response.headers.get('content-disposition') ?? '')?.[1] ??
        `tapgate-audit.${format}`;
      saveBlob(r.data as Blob, name);
      const counts = `${h('records')} records exported; the trail holds ${h('stream-records')} records`;
      setResult(
        h('complete') === 'true'
          ? { text: `Saved ${name}: ${counts}; nothing missing or unreadable.`, bad: false }
          : {
              text: `Saved ${name}: ${counts}. INCOMPLETE: ${h('missing')} sequences missing, unreadable: ${h('unreadable') || 'none'}. Run Verify.`,
              bad: true,
            },
      );
    } catch (e) {
      setResult({ text: `Export failed: ${message(e)}`, bad: true });
    }
  };
  const verify = async () => {
    setResult({ text: 'Verifying…', bad: false });
    try {
      const r = await ok<
        | { ok: true; checked: number; firstSeq: number; lastSeq: number; lastHash: string }
        | { ok: false; brokenAt: number; why: string; detail: string; checked: number }
      >(api.GET('/v1/audit/verify'));
      setResult(
        r.ok
          ? {
              text: `Chain intact: ${r.checked} records verified (sequences ${r.firstSeq}-${r.lastSeq}); head hash ${r.lastHash}`,
              bad: false,
            }
          : {
              text: `Chain BROKEN at sequence ${r.brokenAt}: ${r.why} (${r.detail}); ${r.checked} records verified before it`,
              bad: true,
            },
      );
    } catch (e) {
      setResult({ text: `Verify failed: ${message(e)}`, bad: true });
    }
  };
  return (
    <>
      <Toolbar id="audit-decision-tools">
        <ToolbarContent>
          <ToolbarItem>
            <Button variant="secondary" id="audit-export-csv" onClick={() => void exportFile('csv')}>
              Export CSV
            </Button>
          </ToolbarItem>
          <ToolbarItem>
            <Button variant="secondary" id="audit-export-json" onClick={() => void exportFile('json')}>
              Export JSON
            </Button>
          </ToolbarItem>
          <ToolbarItem>
            <Button variant="primary" id="audit-verify" onClick={() => void verify()}>
              Verify chain
            </Button>
          </ToolbarItem>
          <ToolbarItem variant="pagination">{pager}</ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      <div aria-live="polite">
        {result ? (
          <Toast
            id="audit-result"
            notice={{ variant: result.bad ? 'danger' : 'success', text: result.text }}
          />
        ) : null}
      </div>
      <p id="audit-status">
        {props.filter && rows.length !== loaded ? `${rows.length} of ${status}` : status}
      </p>
      <Table id="audit" aria-label="Decisions" variant="compact">
        <Thead>
          <Tr>
            <Th>Time</Th>
            <Th>Kind</Th>
            <Th>Terminal</Th>
            <Th>User</Th>
            <Th>Outcome</Th>
            <Th>Reason</Th>
            <Th>E-signature meaning</Th>
            <Th>Signer</Th>
            <Th>Sequence</Th>
          </Tr>
        </Thead>
        <Tbody>
          {shown.map(({ seq, record: r }) => (
            <Tr key={seq}>
              <Td dataLabel="Time">{when(r.at)}</Td>
              <Td dataLabel="Kind">{r.kind}</Td>
              <Td dataLabel="Terminal">{r.terminalId}</Td>
              <Td dataLabel="User">
                {r.user
                  ? `${r.user.sAMAccountName}${r.user.displayName ? ` (${r.user.displayName})` : ''}`
                  : ''}
              </Td>
              <Td dataLabel="Outcome">{r.outcome}</Td>
              <Td dataLabel="Reason">{r.reason ?? ''}</Td>
              <Td dataLabel="E-signature meaning">{r.esignReason ?? ''}</Td>
              <Td dataLabel="Signer">
                {r.signer ? `signer ${r.signer}${r.secondSignerRequired ? ' of 2' : ''}` : ''}
              </Td>
              <Td dataLabel="Sequence">{`#${seq}`}</Td>
            </Tr>
          ))}
        </Tbody>
      </Table>
    </>
  );
}

function AdminChanges(props: { hours: string; filter: string }) {
  const [items, setItems] = useState<AdminChange[]>();
  const [status, setStatus] = useState('Loading…');
  useEffect(() => {
    ok<{ items: AdminChange[] }>(
      api.GET('/v1/audit/admin', { params: { query: { limit: 1000, ...period(props.hours) } as never } }),
    ).then(
      (d) => {
        setItems([...d.items].sort((a, b) => b.seq - a.seq));
        setStatus(`${d.items.length} records`);
      },
      (e: unknown) => setStatus(message(e)),
    );
  }, [props.hours]);
  const rows = useMemo(() => (items ?? []).filter((r) => matches(r, props.filter)), [items, props.filter]);
  const loaded = items?.length;
  const { shown, pager } = usePaging(rows);
  return (
    <>
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem variant="pagination">{pager}</ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      <p id="audit-status">
        {props.filter && rows.length !== loaded ? `${rows.length} of ${status}` : status}
      </p>
      <Table id="audit" aria-label="Administrator changes" variant="compact">
        <Thead>
          <Tr>
            <Th>Time</Th>
            <Th>Administrator</Th>
            <Th>Action</Th>
            <Th>Target</Th>
            <Th>Change</Th>
          </Tr>
        </Thead>
        <Tbody>
          {shown.map((r) => (
            <Tr key={r.seq}>
              <Td dataLabel="Time">{when(r.at)}</Td>
              <Td dataLabel="Administrator">{`${r.actor} (${r.via})`}</Td>
              <Td dataLabel="Action">{r.action}</Td>
              <Td dataLabel="Target">{r.target ? `${r.target.type} ${r.target.id}` : (r.from ?? '')}</Td>
              <Td dataLabel="Change">
                {changes(r.before, r.after).map((line) => (
                  <div key={line}>{line}</div>
                ))}
              </Td>
            </Tr>
          ))}
        </Tbody>
      </Table>
    </>
  );
}
