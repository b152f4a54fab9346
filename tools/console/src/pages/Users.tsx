import {
  ActionGroup,
  Button,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Form,
  FormGroup,
  TextInput,
  Title,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useState, type ReactNode } from 'react';
import { api, message, ok } from '../api';
import { PageBody, Toast, useLoad, when } from '../ui';
import type { DirectorySearchResult, UserDetails } from '../views';
import { EffectiveTable } from './Policies';

/** Search the directory; each result opens the user's page. */
export function Users() {
  const [text, setText] = useState('');
  const [result, setResult] = useState<DirectorySearchResult & { q: string }>();
  const [error, setError] = useState<string>();
  const search = async () => {
    setError(undefined);
    try {
      const r = await ok<DirectorySearchResult>(api.GET('/v1/users', { params: { query: { q: text } } }));
      setResult({ ...r, q: text });
    } catch (e) {
      setResult(undefined);
      setError(message(e));
    }
  };
  return (
    <PageBody title="Users">
      <Form
        isHorizontal
        onSubmit={(ev) => {
          ev.preventDefault();
          void search();
        }}
      >
        <FormGroup label="Name, display name or e-mail starts with" fieldId="user-q">
          <TextInput id="user-q" value={text} onChange={(_e, v) => setText(v)} />
        </FormGroup>
        <ActionGroup>
          <Button id="user-search" type="submit" variant="primary">
            Search the directory
          </Button>
        </ActionGroup>
      </Form>
      <Toast id="users-error" notice={error ? { variant: 'danger', text: error } : undefined} />
      {result ? (
        <Table id="users" aria-label="Users found" variant="compact">
          <Thead>
            <Tr>
              <Th>User</Th>
              <Th>Display name</Th>
              <Th>E-mail</Th>
              <Th>Account</Th>
            </Tr>
          </Thead>
          <Tbody>
            {result.items.map((u) => (
              <Tr key={u.sAMAccountName}>
                <Td dataLabel="User">
                  <a href={`#/users/${encodeURIComponent(u.sAMAccountName)}`}>{u.sAMAccountName}</a>
                </Td>
                <Td dataLabel="Display name">{u.displayName ?? ''}</Td>
                <Td dataLabel="E-mail">{u.mail ?? ''}</Td>
                <Td dataLabel="Account">{u.enabled ? 'enabled' : 'disabled'}</Td>
              </Tr>
            ))}
            {result.items.length === 0 ? (
              <Tr>
                <Td colSpan={4}>{`No user's name, display name or e-mail starts with "${result.q}".`}</Td>
              </Tr>
            ) : null}
          </Tbody>
        </Table>
      ) : null}
      {result?.truncated ? (
        <p id="users-truncated">{`Only the first ${result.items.length} matches are shown: type more of the name.`}</p>
      ) : null}
    </PageBody>
  );
}

function Facts(props: { id: string; items: Array<[string, ReactNode]> }) {
  return (
    <DescriptionList id={props.id} isHorizontal isCompact>
      {props.items.map(([term, value]) => (
        <DescriptionListGroup key={term}>
          <DescriptionListTerm>{term}</DescriptionListTerm>
          <DescriptionListDescription>{value}</DescriptionListDescription>
        </DescriptionListGroup>
      ))}
    </DescriptionList>
  );
}

function Section(props: { id: string; title: string; children: ReactNode }) {
  return (
    <section aria-labelledby={`${props.id}-title`} className="tg-section">
      <Title headingLevel="h3" id={`${props.id}-title`}>
        {props.title}
      </Title>
      {props.children}
    </section>
  );
}

function ageText(seconds: number): string {
  if (seconds < 120) return `${seconds} s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

/** One user: directory entry, AD status with evidence, bands, effective policy, recent taps and signatures. */
export function UserPage(props: { user: string }) {
  const { data, error } = useLoad(() =>
    ok<UserDetails>(api.GET('/v1/users/{user}', { params: { path: { user: props.user } } })),
  );
  if (error) {
    return (
      <PageBody title={`User ${props.user}`}>
        <Toast notice={{ variant: 'danger', text: error }} />
      </PageBody>
    );
  }
  if (!data) return null;
  const dir = data.directory;
  const status = data.adStatus;
  return (
    <PageBody title={`User ${data.user}`}>
      <Section id="directory" title="Directory">
        {dir.state === 'found' ? (
          <Facts
            id="user-directory"
            items={[
              ['Display name', dir.displayName ?? ''],
              ['Account', dir.enabled ? 'enabled' : 'disabled'],
              ['E-mail', dir.mail ?? ''],
              ['DN', dir.dn],
              [
                'Groups',
                <ul key="g" id="user-groups">
                  {dir.groups.map((g) => (
                    <li key={g}>{g}</li>
                  ))}
                </ul>,
              ],
            ]}
          />
        ) : (
          <p id="user-directory">
            {dir.state === 'not_found' ? 'The directory has no user of this name.' : dir.message}
          </p>
        )}
      </Section>
      <Section id="ad-status" title="Active Directory status">
        {status.status === 'unavailable' && 'message' in status && !('source' in status) ? (
          <p id="user-status">{status.message}</p>
        ) : 'source' in status ? (
          <>
            <Facts
              id="user-status"
              items={[
                ['Status', status.status],
                ['Read from', status.source === 'cache' ? 'user-status cache' : status.source],
                ['Directory read', `${when(status.checkedAt)} (${ageText(status.ageSeconds)})`],
                ...(status.message ? [['Message', status.message] as [string, ReactNode]] : []),
              ]}
            />
            <Table id="user-evidence" aria-label="Evidence" variant="compact">
              <Thead>
                <Tr>
                  <Th>Attribute</Th>
                  <Th>Value</Th>
                </Tr>
              </Thead>
              <Tbody>
                {Object.entries(status.evidence).map(([k, v]) => (
                  <Tr key={k}>
                    <Td dataLabel="Attribute">{k}</Td>
                    <Td dataLabel="Value">{v}</Td>
                  </Tr>
                ))}
              </Tbody>
            </Table>
          </>
        ) : null}
      </Section>
      <Section id="bands" title="Bands">
        <Table id="user-bands" aria-label="Bands" variant="compact">
          <Thead>
            <Tr>
              <Th>Band</Th>
              <Th>State</Th>
              <Th>Enrolled</Th>
            </Tr>
          </Thead>
          <Tbody>
            {data.bands.map((b) => (
              <Tr key={b.bandId}>
                <Td dataLabel="Band">{b.bandId}</Td>
                <Td dataLabel="State">{b.active ? 'active' : 'suspended'}</Td>
                <Td dataLabel="Enrolled">{`${when(b.created.at)} by ${b.created.by}`}</Td>
              </Tr>
            ))}
            {data.bands.length === 0 ? (
              <Tr>
                <Td colSpan={3}>No band is enrolled for this user.</Td>
              </Tr>
            ) : null}
          </Tbody>
        </Table>
      </Section>
      <Section id="effective" title="Effective policy">
        <p>{`Groups (${data.effectivePolicy.groupsFrom}): ${data.effectivePolicy.groups.join('; ') || 'none'}`}</p>
        <EffectiveTable id="user-effective" effective={data.effectivePolicy} />
      </Section>
      <Section id="activity" title="Recent taps and e-signatures">
        {data.activity.message ? (
          <Toast id="activity-error" notice={{ variant: 'danger', text: data.activity.message }} />
        ) : null}
        <Table id="user-activity" aria-label="Recent taps and e-signatures" variant="compact">
          <Thead>
            <Tr>
              <Th>Time</Th>
              <Th>Kind</Th>
              <Th>Outcome</Th>
              <Th>Terminal</Th>
              <Th>Meaning or reason</Th>
            </Tr>
          </Thead>
          <Tbody>
            {data.activity.items.map(({ seq, record: r }) => (
              <Tr key={seq}>
                <Td dataLabel="Time">{when(r.at)}</Td>
                <Td dataLabel="Kind">
                  {r.kind === 'esign' ? `e-signature${r.signer ? ` (signer ${r.signer})` : ''}` : 'login'}
                </Td>
                <Td dataLabel="Outcome">{r.outcome}</Td>
                <Td dataLabel="Terminal">{r.terminalId}</Td>
                <Td dataLabel="Meaning or reason">{r.esignReason ?? r.reason ?? r.decision?.reason ?? ''}</Td>
              </Tr>
            ))}
            {data.activity.items.length === 0 && !data.activity.message ? (
              <Tr>
                <Td colSpan={5}>{`No taps or e-signatures since ${when(data.activity.since)}.`}</Td>
              </Tr>
            ) : null}
          </Tbody>
        </Table>
      </Section>
    </PageBody>
  );
}
