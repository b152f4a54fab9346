import {
  ActionGroup,
  Button,
  Form,
  FormGroup,
  SearchInput,
  TextArea,
  TextInput,
  Title,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useEffect, useState } from 'react';
import { api, ifMatch, message, ok, problemsFor, type RequestBody } from '../api';
import { FieldProblem, PageBody, Toast, type Notice, useConfirm, useLoad } from '../ui';
import type { BindingState, EnrollmentView } from '../views';
import { EnrollByTap, EnrollUidBadge } from './EnrollByTap';

/**
 * What the tools print for a band's key: PEM, base64url, or a JWK (JSON). A JWK is sent as the object the
 * API takes; the other forms as text. The API decides what is valid.
 */
function keyFromPaste(text: string): RequestBody<'/v1/enrollments', 'post'>['publicKey'] {
  const t = text.trim();
  if (t.startsWith('{')) {
    try {
      return JSON.parse(t) as RequestBody<'/v1/enrollments', 'post'>['publicKey'];
    } catch {
      return t;
    }
  }
  return t;
}

export function Enrollments() {
  const { data, error, reload } = useLoad(() => ok<{ items: EnrollmentView[] }>(api.GET('/v1/enrollments')));
  const [filter, setFilter] = useState('');
  const [notice, setNotice] = useState<Notice>();
  const [confirm, dialog] = useConfirm();
  const act = async (what: () => Promise<unknown>, done: string) => {
    try {
      await what();
      setNotice({ variant: 'success', text: done });
      reload();
    } catch (e) {
      setNotice({ variant: 'danger', text: message(e) });
    }
  };
  const f = filter.toLowerCase();
  const items = (data?.items ?? []).filter(
    (e) => !f || e.bandId.toLowerCase().includes(f) || e.user.sAMAccountName.toLowerCase().includes(f),
  );
  return (
    <PageBody title="Enrollments">
      {dialog}
      <Toast notice={notice ?? (error ? { variant: 'danger', text: error } : undefined)} />
      <SearchInput
        id="enr-filter"
        aria-label="Filter enrollments"
        placeholder="user or band"
        value={filter}
        onChange={(_e, v) => setFilter(v)}
        onClear={() => setFilter('')}
      />
      <Table id="enrollments" aria-label="Enrollments" variant="compact">
        <Thead>
          <Tr>
            <Th>User</Th>
            <Th>Name</Th>
            <Th>Band</Th>
            <Th>State</Th>
            <Th>Directory</Th>
            <Th screenReaderText="Actions" />
          </Tr>
        </Thead>
        <Tbody>
          {items.map((e) => {
            const path = { params: { path: { bandId: e.bandId } }, headers: ifMatch(e.revision) };
            return (
              <Tr key={`${e.bandId}-${e.revision}`} id={`enr-${e.bandId}`}>
                <Td dataLabel="User">{e.user.sAMAccountName}</Td>
                <Td dataLabel="Name">{e.user.displayName ?? ''}</Td>
                <Td dataLabel="Band">{e.kind === 'uid' ? `${e.bandId} (UID badge)` : e.bandId}</Td>
                <Td dataLabel="State" className="state">
                  {e.active ? 'active' : 'suspended'}
                </Td>
                <Td dataLabel="Directory" className="binding" id={`binding-${e.bandId}`}>
                  <Binding
                    enrollment={e}
                    fix={(body, done) =>
                      act(() => ok(api.POST('/v1/enrollments/{bandId}/binding', { ...path, body })), done)
                    }
                  />
                </Td>
                <Td dataLabel="Actions">
                  {e.active ? (
                    <Button
                      id={`suspend-${e.bandId}`}
                      variant="secondary"
                      isDanger
                      onClick={() =>
                        confirm({
                          title: `Suspend band ${e.bandId}?`,
                          body: `${e.user.sAMAccountName}'s taps with this band are refused at once, until it is reactivated.`,
                          action: 'Suspend',
                          run: () =>
                            act(
                              () => ok(api.POST('/v1/enrollments/{bandId}/suspend', path)),
                              `${e.bandId} suspended`,
                            ),
                        })
                      }
                    >
                      Suspend
                    </Button>
                  ) : (
                    <Button
                      id={`reactivate-${e.bandId}`}
                      variant="secondary"
                      onClick={() =>
                        void act(
                          () => ok(api.POST('/v1/enrollments/{bandId}/reactivate', path)),
                          `${e.bandId} reactivated`,
                        )
                      }
                    >
                      Reactivate
                    </Button>
                  )}
                </Td>
              </Tr>
            );
          })}
          {data && items.length === 0 ? (
            <Tr>
              <Td colSpan={6}>
                {filter ? 'No enrollment matches the filter.' : 'No bands enrolled yet: enroll one below.'}
              </Td>
            </Tr>
          ) : null}
        </Tbody>
      </Table>
      <EnrollByTap enrolled={reload} />
      <EnrollForm
        enrolled={(bandId) => (setNotice({ variant: 'success', text: `Enrolled ${bandId}` }), reload())}
      />
      <EnrollUidBadge enrolled={(text) => (setNotice({ variant: 'success', text }), reload())} />
    </PageBody>
  );
}

/**
 * Where the enrollment's bound account stands now (the server checks it through user-status) and the fix:
 * Update for a renamed account, Re-enroll when it is gone or its name now belongs to someone else, Bind for
 * enrollments made before objectGUIDs were recorded.
 */
function Binding(props: {
  enrollment: EnrollmentView;
  fix: (body: RequestBody<'/v1/enrollments/{bandId}/binding', 'post'>, done: string) => Promise<void>;
}) {
  const e = props.enrollment;
  const [state, setState] = useState<BindingState | { state: 'checking' } | { state: 'failed'; why: string }>(
    { state: 'checking' },
  );
  const [user, setUser] = useState(e.user.sAMAccountName);
  useEffect(() => {
    ok<BindingState>(
      api.GET('/v1/enrollments/{bandId}/binding', { params: { path: { bandId: e.bandId } } }),
    ).then(setState, (err: unknown) => setState({ state: 'failed', why: message(err) }));
  }, [e.bandId, e.revision]);
  const reenroll = (
    <>
      <TextInput
        id={`reenroll-user-${e.bandId}`}
        aria-label={`Re-enroll band ${e.bandId} to user`}
        value={user}
        onChange={(_ev, v) => setUser(v)}
      />
      <Button
        id={`reenroll-${e.bandId}`}
        variant="secondary"
        onClick={() =>
          void props.fix({ user: { sAMAccountName: user } }, `${e.bandId} re-enrolled to ${user}`)
        }
      >
        Re-enroll
      </Button>
    </>
  );
  switch (state.state) {
    case 'checking':
      return <>checking…</>;
    case 'bound':
      return <>bound</>;
    case 'renamed':
      return (
        <>
          {`renamed: now ${state.current.sAMAccountName} (${state.current.dn}) `}
          <Button
            id={`update-binding-${e.bandId}`}
            variant="secondary"
            onClick={() => void props.fix({}, `${e.bandId} updated to ${state.current.sAMAccountName}`)}
          >
            Update
          </Button>
        </>
      );
    case 'gone':
      return <>account deleted {reenroll}</>;
    case 'identity_changed':
      return <>name now belongs to another account; taps refused {reenroll}</>;
    case 'unbound':
      return (
        <>
          not bound to a directory object{' '}
          <Button
            id={`bind-binding-${e.bandId}`}
            variant="secondary"
            onClick={() => void props.fix({}, `${e.bandId} bound`)}
          >
            Bind
          </Button>
        </>
      );
    case 'unknown':
    case 'failed':
      return <>{`unknown (${state.why})`}</>;
  }
}

function EnrollForm(props: { enrolled: (bandId: string) => void }) {
  const [bandId, setBandId] = useState('');
  const [user, setUser] = useState('');
  const [key, setKey] = useState('');
  const [err, setErr] = useState<unknown>();
  const submit = async () => {
    setErr(undefined);
    try {
      await ok(
        api.POST('/v1/enrollments', {
          body: {
            bandId,
            user: { sAMAccountName: user },
            publicKey: keyFromPaste(key),
          },
        }),
      );
      props.enrolled(bandId);
      setBandId('');
      setUser('');
      setKey('');
    } catch (e) {
      setErr(e);
    }
  };
  const fields = ['bandId', 'user', 'publicKey'];
  const help = (field: string) => <FieldProblem err={err} field={field} id={`err-${field}`} />;
  // A refusal that names no field of this form (e.g. a user the directory does not know).
  const general = err !== undefined && !fields.some((f) => problemsFor(err, f)) ? message(err) : undefined;
  return (
    <Form
      id="enroll-form"
      aria-labelledby="enroll-title"
      onSubmit={(ev) => {
        ev.preventDefault();
        void submit();
      }}
    >
      <Title headingLevel="h3" id="enroll-title">
        Enroll a band
      </Title>
      <FormGroup label="Band id" fieldId="new-band">
        <TextInput
          id="new-band"
          value={bandId}
          onChange={(_e, v) => setBandId(v)}
          validated={problemsFor(err, 'bandId') ? 'error' : 'default'}
        />
        {help('bandId')}
      </FormGroup>
      <FormGroup label="User (sAMAccountName)" fieldId="new-user">
        <TextInput
          id="new-user"
          value={user}
          onChange={(_e, v) => setUser(v)}
          validated={problemsFor(err, 'user') ? 'error' : 'default'}
        />
        {help('user')}
      </FormGroup>
      <FormGroup label="Public key (PEM, base64url or JWK, as the tools print it)" fieldId="new-key">
        <TextArea
          id="new-key"
          value={key}
          onChange={(_e, v) => setKey(v)}
          rows={4}
          resizeOrientation="vertical"
          validated={problemsFor(err, 'publicKey') ? 'error' : 'default'}
        />
        {help('publicKey')}
      </FormGroup>
      <Toast id="enroll-error" notice={general ? { variant: 'danger', text: general } : undefined} />
      <ActionGroup>
        <Button type="submit" variant="primary">
          Enroll
        </Button>
      </ActionGroup>
    </Form>
  );
}
