import { ActionGroup, Button, Form, FormGroup, LoginPage, Radio, TextInput } from '@patternfly/react-core';
import { useState } from 'react';
import { api, message, ok } from '../api';
import { Toast } from '../ui';

export interface Me {
  user: string;
  role: 'admin' | 'viewer';
  via: string;
  csrfToken?: string;
}

export function Login(props: { loggedOut: boolean; onLogin: (me: Me) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [token, setToken] = useState('');
  const [secretKind, setSecretKind] = useState<'code' | 'token'>('code');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const login = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const r = await ok<Me>(api.POST('/v1/auth/login', { body: { username, password } }));
      props.onLogin({ ...r, via: 'session' });
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  };
  /**
   * Without AD: the bootstrap administrator's one-time code, or the break-glass token. Both are exchanged
   * for a session cookie like an AD login (the page never keeps them).
   */
  const secretLogin = async () => {
    setError(undefined);
    try {
      const r = await ok<Me>(
        secretKind === 'code'
          ? api.POST('/v1/auth/bootstrap', { body: { code: token } })
          : api.POST('/v1/auth/token-login', { body: { token } }),
      );
      setToken('');
      props.onLogin({ ...r, via: 'session' });
    } catch (e) {
      setError(message(e));
    }
  };

  return (
    <LoginPage
      loginTitle="Log in to the Tapgate console"
      loginSubtitle="Active Directory account of the admin group"
    >
      <div aria-live="polite">
        {error ? <Toast id="login-error" notice={{ variant: 'danger', text: error }} /> : null}
        {!error && props.loggedOut ? (
          <Toast id="login-error" notice={{ variant: 'info', text: 'Logged out.' }} />
        ) : null}
      </div>
      <Form
        onSubmit={(ev) => {
          ev.preventDefault();
          void login();
        }}
      >
        <FormGroup label="User name" isRequired fieldId="username">
          <TextInput
            id="username"
            autoFocus
            autoComplete="username"
            value={username}
            onChange={(_e, v) => setUsername(v)}
            isRequired
          />
        </FormGroup>
        <FormGroup label="Password" isRequired fieldId="password">
          <TextInput
            id="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(_e, v) => setPassword(v)}
            isRequired
          />
        </FormGroup>
        <ActionGroup>
          <Button id="login-submit" type="submit" variant="primary" isBlock isDisabled={busy}>
            Log in
          </Button>
        </ActionGroup>
      </Form>
      <Form
        aria-label="Sign in without Active Directory"
        onSubmit={(ev) => {
          ev.preventDefault();
          void secretLogin();
        }}
      >
        <FormGroup role="radiogroup" isInline fieldId="secret-kind" label="Without Active Directory">
          <Radio
            id="secret-code"
            name="secret-kind"
            label="One-time sign-in code (first run)"
            isChecked={secretKind === 'code'}
            onChange={() => setSecretKind('code')}
          />
          <Radio
            id="secret-token"
            name="secret-kind"
            label="Break-glass token"
            isChecked={secretKind === 'token'}
            onChange={() => setSecretKind('token')}
          />
        </FormGroup>
        <FormGroup
          label={secretKind === 'code' ? 'Sign-in code' : 'Break-glass token'}
          fieldId="break-glass-token"
        >
          <TextInput
            id="break-glass-token"
            type="password"
            autoComplete="off"
            value={token}
            onChange={(_e, v) => setToken(v)}
          />
        </FormGroup>
        <ActionGroup>
          <Button id="token-submit" type="submit" variant="secondary" isDisabled={!token}>
            Sign in
          </Button>
        </ActionGroup>
      </Form>
    </LoginPage>
  );
}
