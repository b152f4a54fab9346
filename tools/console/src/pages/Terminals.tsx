import {
  ActionGroup,
  Button,
  ClipboardCopy,
  Form,
  FormGroup,
  Modal,
  ModalBody,
  ModalFooter,
  ModalHeader,
  TextArea,
  TextInput,
  Title,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useEffect, useState } from 'react';

const TERMINALS_REFRESH_MS = 3000;
import { api, ifMatch, message, ok } from '../api';
import { PageBody, Toast, type Notice, useConfirm, useLoad, when } from '../ui';
import type { TerminalView } from '../views';

type Activity = NonNullable<TerminalView['activity']>;

// Connection and last tap: what the gateways announced since the policy service started.
function connection(c: Activity['connection']): string {
  return c ? `${c.state} since ${when(c.since)} (${c.gateway}, ${c.address})` : 'not seen';
}
function lastTap(x: Activity['lastTap']): string {
  if (!x) return 'none seen';
  return `${when(x.at)} ${x.kind} ${x.user ?? x.bandId ?? ''}: ${x.outcome}${x.reason ? ` (${x.reason})` : ''}`;
}

/** A credential, shown once: the server keeps only its hash. */
export function CredentialOnce(props: { id: string; intro: string; credential: string | undefined }) {
  if (!props.credential) return null;
  return (
    <div id={props.id} role="status">
      <p>{props.intro}</p>
      <pre>{props.credential}</pre>
      <ClipboardCopy isReadOnly hoverTip="Copy" clickTip="Copied" aria-label="Credential">
        {props.credential}
      </ClipboardCopy>
    </div>
  );
}

export function Terminals() {
  const { data, error, reload } = useLoad(() => ok<{ items: TerminalView[] }>(api.GET('/v1/terminals')));
  const [notice, setNotice] = useState<Notice>();
  const [credential, setCredential] = useState<{ terminalId: string; credential: string }>();
  const [pins, setPins] = useState<TerminalView>();
  const [confirm, dialog] = useConfirm();
  // Connection state changes without anyone acting here: re-read it every few seconds.
  useEffect(() => {
    const timer = setInterval(reload, TERMINALS_REFRESH_MS);
    return () => clearInterval(timer);
  }, [reload]);
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
    <PageBody title="Terminals">
      {dialog}
      <Toast notice={notice ?? (error ? { variant: 'danger', text: error } : undefined)} />
      <Table id="terminals" aria-label="Terminals" variant="compact">
        <Thead>
          <Tr>
            <Th>Terminal</Th>
            <Th>Description</Th>
            <Th>State</Th>
            <Th>Connection</Th>
            <Th>Last tap</Th>
            <Th screenReaderText="Actions" />
          </Tr>
        </Thead>
        <Tbody>
          {(data?.items ?? []).map((t) => {
            const path = { params: { path: { terminalId: t.terminalId } }, headers: ifMatch(t.revision) };
            const pinned = t.certificateSha256?.length ?? 0;
            return (
              <Tr key={`${t.terminalId}-${t.revision}`} id={`term-${t.terminalId}`}>
                <Td dataLabel="Terminal">{t.terminalId}</Td>
                <Td dataLabel="Description">{t.description ?? ''}</Td>
                <Td dataLabel="State" className="state">
                  {(t.enabled ? 'enabled' : 'disabled') + (pinned ? `, ${pinned} cert pinned` : '')}
                </Td>
                <Td dataLabel="Connection" className="connection">
                  {connection(t.activity?.connection)}
                </Td>
                <Td dataLabel="Last tap" className="last-tap">
                  {lastTap(t.activity?.lastTap)}
                </Td>
                <Td dataLabel="Actions">
                  <Button
                    variant="secondary"
                    size="sm"
                    onClick={() =>
                      confirm({
                        title: `New credential for ${t.terminalId}?`,
                        body: 'The current credential stops working at once; the endpoint needs the new one in its credential_file.',
                        action: 'Rotate',
                        run: () =>
                          act(async () => {
                            const r = await ok<{ credential: string }>(
                              api.POST('/v1/terminals/{terminalId}/credential', path),
                            );
                            setCredential({ terminalId: t.terminalId, credential: r.credential });
                          }, `New credential for ${t.terminalId}`),
                      })
                    }
                  >
                    New credential
                  </Button>{' '}
                  <Button variant="secondary" size="sm" onClick={() => setPins(t)}>
                    Pins
                  </Button>{' '}
                  {t.enabled ? (
                    <Button
                      variant="secondary"
                      size="sm"
                      isDanger
                      onClick={() =>
                        confirm({
                          title: `Disable ${t.terminalId}?`,
                          body: 'Its endpoint is disconnected at once and cannot connect until the terminal is enabled.',
                          action: 'Disable',
                          run: () =>
                            act(
                              () => ok(api.POST('/v1/terminals/{terminalId}/disable', path)),
                              `${t.terminalId} disabled`,
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
                        void act(
                          () => ok(api.POST('/v1/terminals/{terminalId}/enable', path)),
                          `${t.terminalId} enabled`,
                        )
                      }
                    >
                      Enable
                    </Button>
                  )}
                </Td>
              </Tr>
            );
          })}
          {data?.items.length === 0 ? (
            <Tr>
              <Td colSpan={6}>
                No terminals registered yet: register one below and give its endpoint the credential.
              </Td>
            </Tr>
          ) : null}
        </Tbody>
      </Table>
      {pins ? (
        <PinsDialog
          terminal={pins}
          close={() => setPins(undefined)}
          saved={(done) => act(async () => undefined, done)}
        />
      ) : null}
      <RegisterTerminal
        registered={(terminalId, c) => (setCredential({ terminalId, credential: c }), reload())}
      />
      <CredentialOnce
        id="credential-out"
        intro={`Credential of ${credential?.terminalId ?? ''} (shown once; put it in the terminal's credential_file):`}
        credential={credential?.credential}
      />
    </PageBody>
  );
}

function PinsDialog(props: {
  terminal: TerminalView;
  close: () => void;
  saved: (done: string) => Promise<void>;
}) {
  const t = props.terminal;
  const [text, setText] = useState((t.certificateSha256 ?? []).join('\n'));
  const [err, setErr] = useState<string>();
  const save = async () => {
    try {
      await ok(
        api.PUT('/v1/terminals/{terminalId}/certificates', {
          params: { path: { terminalId: t.terminalId } },
          headers: ifMatch(t.revision),
          body: { certificateSha256: text.split(/[\s,]+/).filter(Boolean) },
        }),
      );
      props.close();
      await props.saved(`Pins of ${t.terminalId} saved`);
    } catch (e) {
      setErr(message(e));
    }
  };
  return (
    <Modal variant="medium" isOpen onClose={props.close} aria-labelledby="pins-title">
      <ModalHeader title={`Pinned certificates of ${t.terminalId}`} labelId="pins-title" />
      <ModalBody>
        <Form onSubmit={(ev) => (ev.preventDefault(), void save())}>
          <FormGroup
            label="SHA-256 fingerprints (openssl x509 -noout -fingerprint -sha256), one a line; empty: any certificate of the CA"
            fieldId="pins"
          >
            <TextArea
              id="pins"
              value={text}
              onChange={(_e, v) => setText(v)}
              rows={4}
              validated={err ? 'error' : 'default'}
              aria-describedby="pins-error"
            />
          </FormGroup>
          {err ? <Toast id="pins-error" notice={{ variant: 'danger', text: err }} /> : null}
        </Form>
      </ModalBody>
      <ModalFooter>
        <Button variant="primary" onClick={() => void save()}>
          Save pins
        </Button>
        <Button variant="link" onClick={props.close}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
}

function RegisterTerminal(props: { registered: (terminalId: string, credential: string) => void }) {
  const [terminalId, setTerminalId] = useState('');
  const [description, setDescription] = useState('');
  const [err, setErr] = useState<string>();
  return (
    <Form
      aria-labelledby="register-terminal"
      onSubmit={(ev) => {
        ev.preventDefault();
        setErr(undefined);
        ok<{ credential: string }>(
          api.POST('/v1/terminals', { body: { terminalId, ...(description ? { description } : {}) } }),
        ).then(
          (r) => props.registered(terminalId, r.credential),
          (e: unknown) => setErr(message(e)),
        );
      }}
    >
      <Title headingLevel="h3" id="register-terminal">
        Register a terminal
      </Title>
      <FormGroup label="Terminal id" fieldId="new-terminal">
        <TextInput
          id="new-terminal"
          value={terminalId}
          onChange={(_e, v) => setTerminalId(v)}
          validated={err ? 'error' : 'default'}
        />
      </FormGroup>
      <FormGroup label="Description" fieldId="new-desc">
        <TextInput id="new-desc" value={description} onChange={(_e, v) => setDescription(v)} />
      </FormGroup>
      {err ? <Toast id="err-terminalId" notice={{ variant: 'danger', text: err }} /> : null}
      <ActionGroup>
        <Button type="submit" variant="primary">
          Register terminal
        </Button>
      </ActionGroup>
    </Form>
  );
}
