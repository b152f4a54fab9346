import {
  Button,
  FormSelect,
  FormSelectOption,
  Pagination,
  Tab,
  TabTitleText,
  Tabs,
  TextInput,
  Toolbar,
  ToolbarContent,
  ToolbarGroup,
  ToolbarItem,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import type { AuditRecord } from '@tapgate/contracts';
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, message, ok } from '../api';
import { PageBody, Toast, changes, when } from '../ui';
import type { AdminChange, DecisionPageView } from '../views';

const PERIODS = [
  ['1', 'last hour'],
  ['24', 'last 24 hours'],
  ['168', 'last 7 days'],
  ['720', 'last 30 days'],
  ['all', 'everything'],
  ['custom', 'from … to …'],
] as const;

const OUTCOMES = ['granted', 'refused', 'expired', 'cancelled', 'completed', 'abandoned', 'voided'] as const;

/** The views of the Audit page: one per kind of record, each with its own columns. */
const VIEWS = [
  ['taps', 'Taps'],
  ['logins', 'Logins'],
  ['esign', 'E-signatures'],
  ['admin', 'Administrator changes'],
] as const;
type ViewId = (typeof VIEWS)[number][0];
const KIND: Record<Exclude<ViewId, 'admin'>, AuditRecord['kind']> = {
  taps: 'tap',
  logins: 'login',
  esign: 'esign',
};

/** Everything before now, for "everything" (the API wants a range). */
const EPOCH = new Date(0).toISOString();

interface Range {
  from: string;
  to: string;
}

/** The range a period stands for; for "custom", the two datetime-local inputs (local time). */
function rangeOf(hours: string, custom: { from: string; to: string }): Range | string {
  const to = new Date(Date.now() + 60_000).toISOString();
  if (hours === 'all') return { from: EPOCH, to };
  if (hours !== 'custom') return { from: new Date(Date.now() - Number(hours) * 3_600_000).toISOString(), to };
  const f = Date.parse(custom.from);
  const t = custom.to ? Date.parse(custom.to) : Date.now() + 60_000;
  if (Number.isNaN(f)) return 'Give the start of the range (From).';
  if (Number.isNaN(t) || t <= f) return 'The end of the range (To) must be after its start.';
  return { from: new Date(f).toISOString(), to: new Date(t).toISOString() };
}

/** Text that settles: the value once the user stopped typing for `ms`. */
function useSettled<T>(value: T, ms = 300): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
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

export interface Filters {
  range: Range;
  terminal: string;
  user: string;
  outcome: string;
}

/** `#/audit/<view>/<terminal>`: the Terminals page links a terminal's taps here. */
export function Audit(props: { view?: string; terminal?: string }) {
  const initial = VIEWS.find(([id]) => id === props.view)?.[0] ?? 'taps';
  const [view, setView] = useState<ViewId>(initial);
  const [hours, setHours] = useState('24');
  const [custom, setCustom] = useState({ from: '', to: '' });
  const [terminal, setTerminal] = useState(props.terminal ?? '');
  const [user, setUser] = useState('');
  const [outcome, setOutcome] = useState('');
  const [result, setResult] = useState<Result>();
  const settled = useSettled({ terminal: terminal.trim(), user: user.trim() });
  const range = rangeOf(hours, custom);
  // The range is recomputed on every render ("now" moves): it is keyed by the inputs that define it.
  const [filters, setFilters] = useState<Filters | string>();
  // Refresh: the same filters with "now" moved on, so records appended since are listed.
  const [refreshed, setRefreshed] = useState(0);
  useEffect(() => {
    const r = rangeOf(hours, custom);
    setFilters(typeof r === 'string' ? r : { range: r, ...settled, outcome });
  }, [hours, custom.from, custom.to, settled.terminal, settled.user, outcome, refreshed]);

  const exportFile = async (format: 'csv' | 'json') => {
    if (typeof range === 'string') return setResult({ text: range, bad: true });
    setResult({ text: `Exporting ${format.toUpperCase()}…`, bad: false });
    try {
      const query = hours === 'all' ? { format } : { ...range, format };
      const r = await api.GET('/v1/audit/export', { params: { query: query as never }, parseAs: 'blob' });
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

  const admin = view === 'admin';
  return (
    <PageBody title="Audit">
      <Toolbar id="audit-filters">
        <ToolbarContent>
          <ToolbarGroup>
            <ToolbarItem>
              <FormSelect
                id="audit-hours"
                aria-label="Period"
                value={hours}
                onChange={(_e, v) => setHours(v)}
              >
                {PERIODS.map(([v, label]) => (
                  <FormSelectOption key={v} value={v} label={label} />
                ))}
              </FormSelect>
            </ToolbarItem>
            {hours === 'custom' ? (
              <>
                <ToolbarItem>
                  <TextInput
                    id="audit-from"
                    type="datetime-local"
                    aria-label="From"
                    value={custom.from}
                    onChange={(_e, v) => setCustom((c) => ({ ...c, from: v }))}
                  />
                </ToolbarItem>
                <ToolbarItem>
                  <TextInput
                    id="audit-to"
                    type="datetime-local"
                    aria-label="To (empty: now)"
                    value={custom.to}
                    onChange={(_e, v) => setCustom((c) => ({ ...c, to: v }))}
                  />
                </ToolbarItem>
              </>
            ) : null}
          </ToolbarGroup>
          <ToolbarGroup>
            <ToolbarItem>
              <TextInput
                id="audit-terminal"
                aria-label={admin ? 'Target' : 'Terminal'}
                placeholder={admin ? 'Target' : 'Terminal'}
                value={terminal}
                onChange={(_e, v) => setTerminal(v)}
              />
            </ToolbarItem>
            <ToolbarItem>
              <TextInput
                id="audit-user"
                aria-label={admin ? 'Administrator' : 'User or band id'}
                placeholder={admin ? 'Administrator' : 'User or band id'}
                value={user}
                onChange={(_e, v) => setUser(v)}
              />
            </ToolbarItem>
            {admin ? null : (
              <ToolbarItem>
                <FormSelect
                  id="audit-outcome"
                  aria-label="Outcome"
                  value={outcome}
                  onChange={(_e, v) => setOutcome(v)}
                >
                  <FormSelectOption value="" label="any outcome" />
                  {OUTCOMES.map((o) => (
                    <FormSelectOption key={o} value={o} label={o} />
                  ))}
                </FormSelect>
              </ToolbarItem>
            )}
          </ToolbarGroup>
          <ToolbarGroup>
            <ToolbarItem>
              <Button variant="secondary" id="audit-refresh" onClick={() => setRefreshed((n) => n + 1)}>
                Refresh
              </Button>
            </ToolbarItem>
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
          </ToolbarGroup>
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
      <Tabs
        activeKey={view}
        onSelect={(_e, k) => setView(VIEWS.find(([id]) => id === k)?.[0] ?? 'taps')}
        aria-label="Audit views"
      >
        {VIEWS.map(([id, label]) => (
          <Tab key={id} eventKey={id} id={`tab-${id}`} title={<TabTitleText>{label}</TabTitleText>}>
            {view !== id ? null : typeof filters === 'string' ? (
              <Toast id="audit-status" notice={{ variant: 'danger', text: filters }} />
            ) : filters === undefined ? null : id === 'admin' ? (
              <AdminChanges filters={filters} />
            ) : (
              <Decisions view={id} filters={filters} />
            )}
          </Tab>
        ))}
      </Tabs>
    </PageBody>
  );
}

/** Who a decision names: the user, or for a band the directory does not know, the band id. */
function who(r: AuditRecord): string {
  const u = r.user ?? r.decision?.user;
  if (u) return `${u.sAMAccountName}${u.displayName ? ` (${u.displayName})` : ''}`;
  return r.bandId ? `unknown band ${r.bandId}` : '';
}

const COLUMNS: Record<Exclude<ViewId, 'admin'>, Array<[string, (r: AuditRecord) => ReactNode]>> = {
  taps: [
    ['Terminal', (r) => r.terminalId],
    ['Band id', (r) => r.bandId ?? ''],
    ['Who', who],
    ['Outcome', (r) => r.outcome],
    ['Reason', (r) => r.reason ?? ''],
    ['Identified by', (r) => r.decision?.identifiedBy ?? ''],
  ],
  logins: [
    ['Terminal', (r) => r.terminalId],
    ['Band id', (r) => r.bandId ?? ''],
    ['Who', who],
    ['Outcome', (r) => r.outcome],
    ['Reason', (r) => r.reason ?? ''],
    ['Application', (r) => r.audience ?? ''],
  ],
  esign: [
    ['Terminal', (r) => r.terminalId],
    ['Band id', (r) => r.bandId ?? ''],
    ['Who', who],
    ['Outcome', (r) => r.outcome],
    ['Reason', (r) => r.reason ?? ''],
    ['Meaning', (r) => r.esignReason ?? ''],
    ['Comment', (r) => r.esignComment ?? ''],
    ['Signer', (r) => (r.signer ? `${r.signer} of ${r.secondSignerRequired ? 2 : 1}` : '')],
  ],
};

/**
 * One page of a server-side list: loads `load(offset, limit)` whenever the filters (`key`), the page or
 * its size change (new filters start at the first page); `describe` turns an answer into the status line.
 */
function usePaged<T>(
  key: unknown,
  load: (offset: number, limit: number) => Promise<T>,
  describe: (data: T, offset: number) => string,
) {
  const [page, setPage] = useState(1);
  const [perPage, setPerPage] = useState(50);
  const [data, setData] = useState<T>();
  const [status, setStatus] = useState('Loading…');
  useEffect(() => setPage(1), [key]);
  const offset = (page - 1) * perPage;
  useEffect(() => {
    let live = true;
    setStatus('Loading…');
    load(offset, perPage).then(
      (d) => live && (setData(d), setStatus(describe(d, offset))),
      (e: unknown) => live && setStatus(message(e)),
    );
    return () => {
      live = false;
    };
  }, [key, offset, perPage]);
  return { data, status, page, perPage, setPage, setPerPage };
}

/** The status line and the pager above a list. */
function ListBar(props: { status: string; children: ReactNode }) {
  return (
    <Toolbar>
      <ToolbarContent>
        <ToolbarItem>
          <span id="audit-status">{props.status}</span>
        </ToolbarItem>
        <ToolbarItem variant="pagination">{props.children}</ToolbarItem>
      </ToolbarContent>
    </Toolbar>
  );
}

function Decisions(props: { view: Exclude<ViewId, 'admin'>; filters: Filters }) {
  const f = props.filters;
  const key = useMemo(() => ({ f, view: props.view }), [f, props.view]);
  const paging = usePaged(
    key,
    (offset, limit) => {
      const query = {
        ...f.range,
        kind: KIND[props.view],
        ...(f.terminal ? { terminal: f.terminal } : {}),
        ...(f.user ? { user: f.user } : {}),
        ...(f.outcome ? { outcome: f.outcome } : {}),
        limit,
        offset,
      };
      return ok<DecisionPageView>(api.GET('/v1/audit/decisions', { params: { query: query as never } }));
    },
    (d) => {
      const gaps = d.unreadable + d.missing;
      return `${d.total} records${gaps ? `; ${gaps} sequences could not be read: the list is incomplete, run Verify` : ''}`;
    },
  );
  const data = paging.data;
  const columns = COLUMNS[props.view];
  return (
    <>
      <ListBar status={paging.status}>
        <Pagination
          id="audit-pages"
          itemCount={data?.total ?? 0}
          page={paging.page}
          perPage={paging.perPage}
          onSetPage={(_e, p) => paging.setPage(p)}
          onPerPageSelect={(_e, n) => (paging.setPerPage(n), paging.setPage(1))}
          isCompact
        />
      </ListBar>
      <Table id="audit" aria-label={VIEWS.find(([id]) => id === props.view)?.[1]} variant="compact">
        <Thead>
          <Tr>
            <Th modifier="wrap">Time</Th>
            {columns.map(([name]) => (
              <Th key={name} modifier="wrap">
                {name}
              </Th>
            ))}
            <Th modifier="wrap">Sequence</Th>
          </Tr>
        </Thead>
        <Tbody>
          {(data?.items ?? []).map(({ seq, record: r }) => (
            <Tr key={seq}>
              <Td dataLabel="Time">{when(r.at)}</Td>
              {columns.map(([name, cell]) => (
                <Td key={name} dataLabel={name}>
                  {cell(r)}
                </Td>
              ))}
              <Td dataLabel="Sequence">{`#${seq}`}</Td>
            </Tr>
          ))}
          {data?.total === 0 ? (
            <Tr>
              <Td colSpan={columns.length + 2}>No records match in this period.</Td>
            </Tr>
          ) : null}
        </Tbody>
      </Table>
    </>
  );
}

function AdminChanges(props: { filters: Filters }) {
  const f = props.filters;
  const paging = usePaged(
    f,
    (offset, limit) => {
      const query = {
        ...(f.range.from === EPOCH ? {} : f.range),
        ...(f.terminal ? { target: f.terminal } : {}),
        ...(f.user ? { actor: f.user } : {}),
        limit,
        offset,
      };
      return ok<{ items: AdminChange[]; more: boolean }>(
        api.GET('/v1/audit/admin', { params: { query: query as never } }),
      );
    },
    (d, offset) =>
      d.items.length === 0
        ? '0 records'
        : `records ${offset + 1}-${offset + d.items.length}${d.more ? ' (more on the next page)' : ''}`,
  );
  const data = paging.data;
  return (
    <>
      <ListBar status={paging.status}>
        <Button
          variant="secondary"
          size="sm"
          isDisabled={paging.page === 1}
          onClick={() => paging.setPage(paging.page - 1)}
        >
          Newer
        </Button>{' '}
        <Button
          variant="secondary"
          size="sm"
          isDisabled={!data?.more}
          onClick={() => paging.setPage(paging.page + 1)}
        >
          Older
        </Button>
      </ListBar>
      <Table id="audit" aria-label="Administrator changes" variant="compact">
        <Thead>
          <Tr>
            <Th modifier="wrap">Time</Th>
            <Th modifier="wrap">Administrator</Th>
            <Th modifier="wrap">Action</Th>
            <Th modifier="wrap">Target</Th>
            <Th modifier="wrap">Change</Th>
          </Tr>
        </Thead>
        <Tbody>
          {(data?.items ?? []).map((r) => (
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
          {data?.items.length === 0 ? (
            <Tr>
              <Td colSpan={5}>No administrator changes match in this period.</Td>
            </Tr>
          ) : null}
        </Tbody>
      </Table>
    </>
  );
}
