import { ActionGroup, Button, Form, FormGroup, LoginPage, TextInput } from '@patternfly/react-core';
import { useMemo, useState } from 'react';
import { api, message, ok } from '../api';
import { Toast } from '../ui';

export interface Me {
  user: string;
  role: 'admin' | 'viewer';
  via: string;
  csrfToken?: string;
}

export interface BreakGlass {
  use(token: string): void;
  forget(): void;
}

/**
 * The break-glass token, typed on the login page, is kept in this page's memory only (never in storage) and
 * sent as `Authorization: Bearer` with every request; a reload forgets it.
 */
export function useBreakGlass(): BreakGlass {
  return useMemo(() => {
    let token = '';
    api.use({
      onRequest({ request }) {
        if (token) request.headers.set('authorization', `Bearer ${token}`);
        return request;
      },
    });
    return {
      use: (t: string) => (token = t),
      forget: () => (token = ''),
    };
  }, []);
}

export function Login(props: { loggedOut: boolean; breakGlass: BreakGlass; onLogin: (me: Me) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [token, setToken] = useState('');
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
  const tokenLogin = async () => {
    setError(undefined);
    props.breakGlass.use(token);
    try {
      props.onLogin(await ok<Me>(api.GET('/v1/auth/me')));
    } catch {
      props.breakGlass.forget();
      setError('that token is not accepted');
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
        aria-label="Break-glass token"
        onSubmit={(ev) => {
          ev.preventDefault();
          void tokenLogin();
        }}
      >
        <FormGroup label="Break-glass token" fieldId="break-glass-token">
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
            Use token
          </Button>
        </ActionGroup>
      </Form>
    </LoginPage>
  );
}
