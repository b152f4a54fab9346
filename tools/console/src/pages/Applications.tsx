import { ActionGroup, Button, Form, FormGroup, TextInput, Title } from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useState } from 'react';
import { api, ifMatch, message, ok } from '../api';
import { PageBody, Toast, type Notice, useConfirm, useLoad, when } from '../ui';
import type { ApplicationView } from '../views';
import { CredentialOnce } from './Terminals';

interface IssuedCredential {
  credentialId: string;
  credential: string;
  application: { applicationId: string };
}

/** "LINE1-*, T2" as the list the API takes; the API decides what a valid scope is. */
const scopeList = (text: string) => text.split(/[\s,]+/).filter(Boolean);

// NEA applications that may bind explicitly to terminals (docs/security.md).
export function Applications() {
  const { data, error, reload } = useLoad(() =>
    ok<{ items: ApplicationView[] }>(api.GET('/v1/applications')),
  );
  const [notice, setNotice] = useState<Notice>();
  const [issued, setIssued] = useState<IssuedCredential>();
  const [confirm, dialog] = useConfirm();
  const act = async (f: () => Promise<unknown>, done: string) => {
    try {
      await f();
      setNotice({ variant: 'success', text: done });
      reload();
    } catch (e) {
      setNotice({ variant: 'danger', text: message(e) });
    }
  };
  return (
    <PageBody title="Applications">
      {dialog}
      <p>
        Applications (NEA clients) that may bind to a terminal by id. Pages on the terminal itself bind by
        address and need no entry here.
      </p>
      <Toast notice={notice ?? (error ? { variant: 'danger', text: error } : undefined)} />
      <Table id="applications" aria-label="Applications" variant="compact">
        <Thead>
          <Tr>
            <Th>Application</Th>
            <Th>Name</Th>
            <Th>Terminals</Th>
            <Th>State</Th>
            <Th>Credentials</Th>
            <Th screenReaderText="Actions" />
          </Tr>
        </Thead>
        <Tbody>
          {(data?.items ?? []).map((a) => (
            <AppRow
              key={`${a.applicationId}-${a.revision}`}
              app={a}
              act={act}
              confirm={confirm}
              issued={setIssued}
            />
          ))}
          {data?.items.length === 0 ? (
            <Tr>
              <Td colSpan={6}>
                No applications registered: only pages on the terminals themselves can bind.
              </Td>
            </Tr>
          ) : null}
        </Tbody>
      </Table>
      <RegisterApplication
        registered={(r) => {
          setIssued(r);
          setNotice({ variant: 'success', text: `Registered ${r.application.applicationId}` });
          reload();
        }}
      />
      <CredentialOnce
        id="app-credential-out"
        intro={`Credential ${issued?.credentialId ?? ''} of ${issued?.application.applicationId ?? ''} (shown once; keep it on the application's server):`}
        credential={issued?.credential}
      />
    </PageBody>
  );
}

function AppRow(props: {
  app: ApplicationView;
  act: (f: () => Promise<unknown>, done: string) => Promise<void>;
  confirm: ReturnType<typeof useConfirm>[0];
  issued: (c: IssuedCredential) => void;
}) {
  const a = props.app;
  const [scope, setScope] = useState(a.terminals.join(', '));
  const path = { params: { path: { applicationId: a.applicationId } }, headers: ifMatch(a.revision) };
  return (
    <Tr id={`app-${a.applicationId}`}>
      <Td dataLabel="Application">{a.applicationId}</Td>
      <Td dataLabel="Name">{a.displayName}</Td>
      <Td dataLabel="Terminals">
        <TextInput
          aria-label={`Terminals of ${a.applicationId}`}
          value={scope}
          onChange={(_e, v) => setScope(v)}
        />
        <Button
          variant="link"
          size="sm"
          onClick={() =>
            void props.act(
              () =>
                ok(
                  api.PUT('/v1/applications/{applicationId}', {
                    ...path,
                    body: { displayName: a.displayName, terminals: scopeList(scope) },
                  }),
                ),
              `Scope of ${a.applicationId} saved`,
            )
          }
        >
          Save scope
        </Button>
      </Td>
      <Td dataLabel="State" className="state">
        {a.enabled ? 'enabled' : 'disabled'}
      </Td>
      <Td dataLabel="Credentials" className="credentials">
        {a.credentials.map((c) => (
          <div key={c.credentialId}>
            {`${c.credentialId} (${when(c.created.at)}) `}
            <Button
              variant="link"
              size="sm"
              isDanger
              aria-label={`Revoke credential ${c.credentialId} of ${a.applicationId}`}
              onClick={() =>
                props.confirm({
                  title: `Revoke credential ${c.credentialId} of ${a.applicationId}?`,
                  body: 'It stops working at once: sockets that bound with it are closed.',
                  action: 'Revoke',
                  run: () =>
                    props.act(
                      () =>
                        ok(
                          api.DELETE('/v1/applications/{applicationId}/credentials/{credentialId}', {
                            params: {
                              path: { applicationId: a.applicationId, credentialId: c.credentialId },
                            },
                            headers: ifMatch(a.revision),
                          }),
                        ),
                      `Credential ${c.credentialId} revoked`,
                    ),
                })
              }
            >
              Revoke
            </Button>
          </div>
        ))}
      </Td>
      <Td dataLabel="Actions">
        <Button
          variant="secondary"
          size="sm"
          onClick={() =>
            void props.act(
              async () =>
                props.issued(
                  await ok<IssuedCredential>(api.POST('/v1/applications/{applicationId}/credentials', path)),
                ),
              `New credential for ${a.applicationId}`,
            )
          }
        >
          New credential
        </Button>{' '}
        {a.enabled ? (
          <Button
            variant="secondary"
            size="sm"
            isDanger
            onClick={() =>
              props.confirm({
                title: `Disable ${a.applicationId}?`,
                body: 'Its sockets are closed at once and it cannot bind until enabled.',
                action: 'Disable',
                run: () =>
                  props.act(
                    () => ok(api.POST('/v1/applications/{applicationId}/disable', path)),
                    `${a.applicationId} disabled`,
                  ),
              })
            }
          >
            Disable
          </Button>
        ) : (
          <Button
            variant="secondary"
            size="sm"
            onClick={() =>
              void props.act(
                () => ok(api.POST('/v1/applications/{applicationId}/enable', path)),
                `${a.applicationId} enabled`,
              )
            }
          >
            Enable
          </Button>
        )}{' '}
        <Button
          variant="danger"
          size="sm"
          onClick={() =>
            props.confirm({
              title: `Delete ${a.applicationId}?`,
              body: 'Its sockets are closed and its credentials stop working.',
              action: 'Delete',
              run: () =>
                props.act(
                  () => ok(api.DELETE('/v1/applications/{applicationId}', path)),
                  `${a.applicationId} deleted`,
                ),
            })
          }
        >
          Delete
        </Button>
      </Td>
    </Tr>
  );
}

function RegisterApplication(props: { registered: (r: IssuedCredential) => void }) {
  const [applicationId, setId] = useState('');
  const [displayName, setName] = useState('');
  const [terminals, setTerminals] = useState('');
  const [err, setErr] = useState<string>();
  return (
    <Form
      aria-labelledby="register-app"
      onSubmit={(ev) => {
        ev.preventDefault();
        setErr(undefined);
        ok<IssuedCredential>(
          api.POST('/v1/applications', {
            body: { applicationId, displayName, terminals: scopeList(terminals) },
          }),
        ).then(props.registered, (e: unknown) => setErr(message(e)));
      }}
    >
      <Title headingLevel="h3" id="register-app">
        Register an application
      </Title>
      <FormGroup label="Application id" fieldId="new-app">
        <TextInput id="new-app" value={applicationId} onChange={(_e, v) => setId(v)} />
      </FormGroup>
      <FormGroup label="Display name" fieldId="new-app-name">
        <TextInput id="new-app-name" value={displayName} onChange={(_e, v) => setName(v)} />
      </FormGroup>
      <FormGroup label="Terminals (ids or patterns such as LINE1-*)" fieldId="new-app-terminals">
        <TextInput id="new-app-terminals" value={terminals} onChange={(_e, v) => setTerminals(v)} />
      </FormGroup>
      {err ? <Toast id="err-application" notice={{ variant: 'danger', text: err }} /> : null}
      <ActionGroup>
        <Button type="submit" variant="primary">
          Register application
        </Button>
      </ActionGroup>
    </Form>
  );
}
