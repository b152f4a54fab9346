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
import { ConfirmedButton, PageBody, Toast, type Notice, useConfirm, useLoad, when } from '../ui';
import type { TerminalList, TerminalView } from '../views';

type Activity = NonNullable<TerminalView['activity']>;
type Tap = NonNullable<Activity['lastTaps']>[number];

/** Online from any gateway replica now, with where and since when; else when it was last seen. */
function connection(t: TerminalView): string {
  const e = t.live.endpoint;
  if (t.live.state === 'online' && e) return `online since ${when(e.since)} (${e.address}, ${e.gateway})`;
  const c = t.activity?.connection;
  const last = c?.state === 'offline' ? ` since ${when(c.since)}` : '';
  return t.live.state === 'unknown' ? 'unknown (gateways not reachable)' : `offline${last}`;
}
function version(t: TerminalView): string {
  const s = t.live.endpoint?.software;
  if (s) return `${s.name} ${s.version}`;
  return t.live.state === 'online' ? 'not reported' : '';
}
function tapLine(x: Tap): string {
  const who = x.user ?? (x.bandId ? `band ${x.bandId}` : 'UID tap');
  return `${when(x.at)} ${x.kind} ${who}: ${x.outcome}${x.reason ? ` (${x.reason})` : ''}`;
}
function applications(t: TerminalView): string[] {
  return t.live.applications.map((a) => {
    const name = a.applicationId ?? a.app?.name ?? 'unregistered client';
    const how = a.binding === 'explicit' ? 'by terminal id' : `by address ${a.address}`;
    return `${name} (${how}, ${a.gateway})`;
  });
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
  const { data, error, reload } = useLoad(() => ok<TerminalList>(api.GET('/v1/terminals')));
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
  const gw = data?.gateways;
  return (
    <PageBody title="Terminals">
      {dialog}
      <Toast notice={notice ?? (error ? { variant: 'danger', text: error } : undefined)} />
      <p id="gateways">
        {!gw
          ? ''
          : gw.known
            ? `Live state from ${gw.answered.length} gateway replica${gw.answered.length === 1 ? '' : 's'}${gw.answered.length ? ` (${gw.answered.join(', ')})` : ''}${gw.truncated ? '; a replica listed only part of its connections' : ''}.`
            : `The gateways could not be asked (${gw.why ?? 'unknown'}): online state unknown.`}
      </p>
      <Table id="terminals" aria-label="Terminals" variant="compact">
        <Thead>
          <Tr>
            <Th modifier="wrap">Terminal</Th>
            <Th modifier="wrap">State</Th>
            <Th modifier="wrap">Connection</Th>
            <Th modifier="wrap">Endpoint version</Th>
            <Th modifier="wrap">Applications bound</Th>
            <Th modifier="wrap">Last taps</Th>
            <Th screenReaderText="Actions" />
          </Tr>
        </Thead>
        <Tbody>
          {(data?.items ?? []).map((t) => {
            const path = { params: { path: { terminalId: t.terminalId } }, headers: ifMatch(t.revision) };
            const pinned = t.certificateSha256?.length ?? 0;
            const taps = t.activity?.lastTaps ?? [];
            const apps = applications(t);
            return (
              <Tr key={`${t.terminalId}-${t.revision}`} id={`term-${t.terminalId}`}>
                <Td dataLabel="Terminal">
                  <div>{t.terminalId}</div>
                  {t.description ? <small>{t.description}</small> : null}
                </Td>
                <Td dataLabel="State" className="state">
                  {(t.enabled ? 'enabled' : 'disabled') + (pinned ? `, ${pinned} cert pinned` : '')}
                </Td>
                <Td dataLabel="Connection" className="connection">
                  {connection(t)}
                </Td>
                <Td dataLabel="Endpoint version" className="version">
                  {version(t)}
                </Td>
                <Td dataLabel="Applications bound" className="apps">
                  {apps.length === 0 ? 'none' : apps.map((a) => <div key={a}>{a}</div>)}
                </Td>
                <Td dataLabel="Last taps">
                  <div className="last-tap">
                    {taps.length === 0
                      ? 'none seen'
                      : taps.map((x) => <div key={`${x.at}-${x.bandId ?? ''}`}>{tapLine(x)}</div>)}
                  </div>
                  <a href={`#/audit/taps/${encodeURIComponent(t.terminalId)}`}>
                    {`Taps of ${t.terminalId} in the audit trail`}
                  </a>
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
                    <ConfirmedButton
                      label="Disable"
                      confirm={confirm}
                      request={{
                        title: `Disable ${t.terminalId}?`,
                        body: 'Its endpoint is disconnected at once and cannot connect until the terminal is enabled.',
                        run: () =>
                          act(
                            () => ok(api.POST('/v1/terminals/{terminalId}/disable', path)),
                            `${t.terminalId} disabled`,
                          ),
                      }}
                    />
                  ) : (
                    <ConfirmedButton
                      label="Enable"
                      confirm={confirm}
                      request={{
                        title: `Enable ${t.terminalId}?`,
                        body: 'Its endpoint may connect again with its credential, and its taps are decided again.',
                        danger: false,
                        run: () =>
                          act(
                            () => ok(api.POST('/v1/terminals/{terminalId}/enable', path)),
                            `${t.terminalId} enabled`,
                          ),
                      }}
                    />
                  )}{' '}
                  <ConfirmedButton
                    label="Delete"
                    confirm={confirm}
                    request={{
                      title: `Delete ${t.terminalId}?`,
                      body: 'Its record and credential are removed: its endpoint is disconnected and cannot connect again. Its taps stay in the audit trail.',
                      run: () =>
                        act(
                          () => ok(api.DELETE('/v1/terminals/{terminalId}', path)),
                          `${t.terminalId} deleted`,
                        ),
                    }}
                  />
                </Td>
              </Tr>
            );
          })}
          {data?.items.length === 0 ? (
            <Tr>
              <Td colSpan={7}>
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
