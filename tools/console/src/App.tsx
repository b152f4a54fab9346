import {
  Button,
  Masthead,
  MastheadBrand,
  MastheadContent,
  MastheadMain,
  Nav,
  NavItem,
  NavList,
  Page,
  PageSidebar,
  PageSidebarBody,
} from '@patternfly/react-core';
import { useEffect, useState } from 'react';
import { api, ok, onLoggedOut, setCsrf } from './api';
import { Login, type Me } from './pages/Login';
import { Applications } from './pages/Applications';
import { Audit } from './pages/Audit';
import { Dashboard } from './pages/Dashboard';
import { Enrollments } from './pages/Enrollments';
import { PolicyForm, Policies } from './pages/Policies';
import { Terminals } from './pages/Terminals';
import { UserPage, Users } from './pages/Users';

const SECTIONS = [
  ['dashboard', 'Dashboard'],
  ['users', 'Users'],
  ['policies', 'Policies'],
  ['enrollments', 'Enrollments'],
  ['terminals', 'Terminals'],
  ['applications', 'Applications'],
  ['audit', 'Audit'],
] as const;

/** "#/policies/x" and "#policies" alike: the route's parts. */
function route(): string[] {
  return location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
}

function useRoute(): string[] {
  const [r, setR] = useState(route);
  useEffect(() => {
    const f = () => setR(route());
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  return r;
}

export function App() {
  const [me, setMe] = useState<Me | null>();
  const [loggedOutNote, setLoggedOutNote] = useState(false);
  const parts = useRoute();

  useEffect(() => {
    onLoggedOut(() => setMe(null));
    ok<Me>(api.GET('/v1/auth/me')).then(
      (m) => {
        setCsrf(m.csrfToken ?? '');
        setMe(m);
      },
      () => setMe(null),
    );
  }, []);

  if (me === undefined) return null;
  if (me === null) {
    return (
      <Login
        loggedOut={loggedOutNote}
        onLogin={(m) => {
          setCsrf(m.csrfToken ?? '');
          setLoggedOutNote(false);
          setMe(m);
          if (route().length === 0) location.hash = '#/policies';
        }}
      />
    );
  }

  const logout = async () => {
    await api.POST('/v1/auth/logout').catch(() => undefined);
    setCsrf('');
    setLoggedOutNote(true);
    setMe(null);
  };
  const section = parts[0] ?? 'policies';
  const header = (
    <Masthead>
      <MastheadMain>
        <MastheadBrand>
          <strong>Tapgate console</strong>
        </MastheadBrand>
      </MastheadMain>
      <MastheadContent>
        <span id="whoami">{`${me.user} (${me.role})`}</span>{' '}
        <Button variant="secondary" onClick={() => void logout()}>
          Log out
        </Button>
      </MastheadContent>
    </Masthead>
  );
  const sidebar = (
    <PageSidebar>
      <PageSidebarBody>
        <Nav id="nav" aria-label="Sections">
          <NavList>
            {SECTIONS.map(([id, label]) => (
              <NavItem key={id} to={`#/${id}`} isActive={section === id}>
                {label}
              </NavItem>
            ))}
          </NavList>
        </Nav>
      </PageSidebarBody>
    </PageSidebar>
  );
  return (
    <Page masthead={header} sidebar={sidebar} isManagedSidebar>
      <Section parts={parts} admin={me.role === 'admin'} />
    </Page>
  );
}

function Section(props: { parts: string[]; admin: boolean }) {
  const [section, id, kind] = props.parts;
  switch (section) {
    case 'dashboard':
      return <Dashboard />;
    case 'enrollments':
      return <Enrollments />;
    case 'terminals':
      return <Terminals />;
    case 'applications':
      return <Applications />;
    case 'audit':
      return <Audit key={`${id ?? ''}/${kind ?? ''}`} view={id} terminal={kind} />;
    case 'users':
      return id ? <UserPage key={id} user={id} /> : <Users />;
    case 'policies':
      if (id === 'new' && (kind === 'default' || kind === 'group' || kind === 'user')) {
        return <PolicyForm key={`new-${kind}`} newKind={kind} />;
      }
      if (id) return <PolicyForm key={id} policyId={id} />;
      return <Policies />;
    default:
      return <Policies />;
  }
}
