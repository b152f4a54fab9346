import {
  ActionGroup,
  Button,
  Form,
  FormGroup,
  FormSelect,
  FormSelectOption,
  TextInput,
  Title,
} from '@patternfly/react-core';
import { useEffect, useState } from 'react';
import { api, message, ok, problemsFor, type RequestBody } from '../api';
import { FieldProblem, Toast, useLoad, type Notice } from '../ui';
import type { EnrollmentSessionView, TerminalView } from '../views';

type Accept = RequestBody<'/v1/enrollment-sessions', 'post'>['accept'];

/** The choices of what a session enrolls; the server validates and defaults them. */
const ACCEPT_CHOICES: Array<{ value: string; label: string; accept: Accept }> = [
  { value: 'band', label: 'A band', accept: ['band'] },
  { value: 'uid', label: 'A UID badge (no proof of possession)', accept: ['uid'] },
  { value: 'both', label: 'A band or a UID badge', accept: ['band', 'uid'] },
];

const POLL_MS = 1000;

/** What the open or finished session says, in words for the administrator at the station. */
function sessionNotice(s: EnrollmentSessionView): Notice {
  switch (s.state) {
    case 'waiting': {
      const last = s.attempts.at(-1);
      const until = new Date(s.expiresAt).toLocaleTimeString();
      return {
        variant: 'info',
        text: `Waiting for a tap at ${s.terminalId} for ${s.user.sAMAccountName} (until ${until}).${last ? ` Last tap refused: ${last.message}` : ''}`,
      };
    }
    case 'enrolled': {
      const e = s.enrolled;
      const what = e?.kind === 'uid' ? `UID badge ${e.bandId}` : `Band ${e?.bandId ?? ''}`;
      return {
        variant: 'success',
        text: `${what} enrolled to ${s.user.sAMAccountName}.${e?.warning ? ` ${e.warning}` : ''}`,
      };
    }
    case 'cancelled':
      return { variant: 'danger', text: `The enrollment session at ${s.terminalId} was cancelled.` };
    case 'expired':
      return {
        variant: 'danger',
        text: `The enrollment session at ${s.terminalId} expired without an enrollment. Start a new one.`,
      };
  }
}

/**
 * Enroll by tap: the administrator picks the user and the terminal; the band tapped there arrives with its
 * key and proof of possession through the endpoint and gateway; the page polls the session until it ends.
 */
export function EnrollByTap(props: { enrolled: () => void }) {
  const terminals = useLoad(() => ok<{ items: TerminalView[] }>(api.GET('/v1/terminals')));
  const [user, setUser] = useState('');
  const [terminalId, setTerminalId] = useState('');
  const [accept, setAccept] = useState('band');
  const [err, setErr] = useState<unknown>();
  const [session, setSession] = useState<EnrollmentSessionView>();
  const waiting = session?.state === 'waiting';
  const enabled = (terminals.data?.items ?? []).filter((t) => t.enabled);
  const chosen = terminalId || enabled[0]?.terminalId || '';

  useEffect(() => {
    if (!waiting || !session) return;
    const timer = setInterval(() => {
      ok<EnrollmentSessionView>(
        api.GET('/v1/enrollment-sessions/{terminalId}', {
          params: { path: { terminalId: session.terminalId } },
        }),
      ).then(
        (s) => {
          if (s.sessionId !== session.sessionId) return;
          setSession(s);
          if (s.state === 'enrolled') props.enrolled();
        },
        (e: unknown) => setErr(e),
      );
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [waiting, session?.sessionId]);

  const start = async () => {
    setErr(undefined);
    setSession(undefined);
    try {
      setSession(
        await ok<EnrollmentSessionView>(
          api.POST('/v1/enrollment-sessions', {
            body: {
              terminalId: chosen,
              user: { sAMAccountName: user },
              accept: ACCEPT_CHOICES.find((c) => c.value === accept)?.accept,
            },
          }),
        ),
      );
    } catch (e) {
      setErr(e);
    }
  };
  const cancel = async () => {
    if (!session) return;
    try {
      setSession(
        await ok<EnrollmentSessionView>(
          api.POST('/v1/enrollment-sessions/{terminalId}/cancel', {
            params: { path: { terminalId: session.terminalId } },
            body: { sessionId: session.sessionId },
          }),
        ),
      );
    } catch (e) {
      setErr(e);
    }
  };
  const fields = ['user', 'terminalId', 'accept'];
  const general = err !== undefined && !fields.some((f) => problemsFor(err, f)) ? message(err) : undefined;
  return (
    <Form
      id="tap-form"
      aria-labelledby="tap-title"
      onSubmit={(ev) => {
        ev.preventDefault();
        void start();
      }}
    >
      <Title headingLevel="h3" id="tap-title">
        Enroll by tap
      </Title>
      <FormGroup label="Account the tapped band is enrolled to" fieldId="tap-user">
        <TextInput
          id="tap-user"
          value={user}
          onChange={(_e, v) => setUser(v)}
          isDisabled={waiting}
          validated={problemsFor(err, 'user') ? 'error' : 'default'}
        />
        <FieldProblem err={err} field="user" id="err-tap-user" />
      </FormGroup>
      <FormGroup label="Terminal where the band is tapped" fieldId="tap-terminal">
        <FormSelect
          id="tap-terminal"
          value={chosen}
          onChange={(_e, v) => setTerminalId(v)}
          isDisabled={waiting}
          validated={problemsFor(err, 'terminalId') ? 'error' : 'default'}
        >
          {enabled.length === 0 ? <FormSelectOption value="" label="No enabled terminal" isDisabled /> : null}
          {enabled.map((t) => (
            <FormSelectOption
              key={t.terminalId}
              value={t.terminalId}
              label={t.description ? `${t.terminalId} (${t.description})` : t.terminalId}
            />
          ))}
        </FormSelect>
        <FieldProblem err={err} field="terminalId" id="err-tap-terminal" />
      </FormGroup>
      <FormGroup label="What to enroll" fieldId="tap-accept">
        <FormSelect id="tap-accept" value={accept} onChange={(_e, v) => setAccept(v)} isDisabled={waiting}>
          {ACCEPT_CHOICES.map((c) => (
            <FormSelectOption key={c.value} value={c.value} label={c.label} />
          ))}
        </FormSelect>
      </FormGroup>
      <div aria-live="polite">
        <Toast id="tap-status" notice={session ? sessionNotice(session) : undefined} />
        <Toast id="tap-error" notice={general ? { variant: 'danger', text: general } : undefined} />
      </div>
      <ActionGroup>
        {waiting ? (
          <Button id="tap-cancel" variant="secondary" onClick={() => void cancel()}>
            Cancel enrollment
          </Button>
        ) : (
          <Button id="tap-start" type="submit" variant="primary" isDisabled={!chosen}>
            Enroll by tap
          </Button>
        )}
      </ActionGroup>
    </Form>
  );
}

/** A plain NFC UID badge, enrolled by its UID (the API says what is valid and warns about copies). */
export function EnrollUidBadge(props: { enrolled: (text: string) => void }) {
  const [uid, setUid] = useState('');
  const [user, setUser] = useState('');
  const [err, setErr] = useState<unknown>();
  const submit = async () => {
    setErr(undefined);
    try {
      const created = await ok<{ bandId: string; warning: string }>(
        api.POST('/v1/enrollments/uid-badges', { body: { uid, user: { sAMAccountName: user } } }),
      );
      props.enrolled(`Enrolled UID badge ${created.bandId}. ${created.warning}`);
      setUid('');
      setUser('');
    } catch (e) {
      setErr(e);
    }
  };
  const general =
    err !== undefined && !['uid', 'user'].some((f) => problemsFor(err, f)) ? message(err) : undefined;
  return (
    <Form
      id="uid-form"
      aria-labelledby="uid-title"
      onSubmit={(ev) => {
        ev.preventDefault();
        void submit();
      }}
    >
      <Title headingLevel="h3" id="uid-title">
        Enroll a UID badge
      </Title>
      <FormGroup label="Badge UID (hex, as the reader prints it)" fieldId="uid-value">
        <TextInput
          id="uid-value"
          value={uid}
          onChange={(_e, v) => setUid(v.trim())}
          validated={problemsFor(err, 'uid') ? 'error' : 'default'}
        />
        <FieldProblem err={err} field="uid" id="err-uid" />
      </FormGroup>
      <FormGroup label="Account the badge is enrolled to" fieldId="uid-user">
        <TextInput
          id="uid-user"
          value={user}
          onChange={(_e, v) => setUser(v)}
          validated={problemsFor(err, 'user') ? 'error' : 'default'}
        />
        <FieldProblem err={err} field="user" id="err-uid-user" />
      </FormGroup>
      <Toast id="uid-error" notice={general ? { variant: 'danger', text: general } : undefined} />
      <ActionGroup>
        <Button id="uid-submit" type="submit" variant="primary">
          Enroll badge
        </Button>
      </ActionGroup>
    </Form>
  );
}
