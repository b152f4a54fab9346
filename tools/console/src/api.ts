import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './generated/api';

/** Request bodies as the policy service's OpenAPI document declares them (generated, never copied). */
export type Schemas = components['schemas'];
type JsonBody<O> = O extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;
/** The JSON body of `method` on `path`, as the document declares it. */
export type RequestBody<P extends keyof paths, M extends keyof paths[P]> = JsonBody<paths[P][M]>;

export type FieldProblem = NonNullable<Schemas['Error']['error']['errors']>[number];

/** A refusal from the API: its message and, for a validation error, every problem by field. */
export class ApiProblem extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly field?: string,
    readonly errors: FieldProblem[] = [],
  ) {
    super(message);
  }
}

/**
 * The API's messages for one form field (`name`), matched on the last segment of each problem's path
 * (`settings.tap.allowUidTaps` belongs to the `allowUidTaps` field).
 */
export function problemsFor(e: unknown, name: string): string | undefined {
  if (!(e instanceof ApiProblem)) return undefined;
  const list = e.errors.length > 0 ? e.errors : e.field ? [{ path: e.field, message: e.message }] : [];
  const mine = list.filter(
    (p) => p.path === name || p.path.endsWith(`.${name}`) || p.path.startsWith(`${name}.`),
  );
  return mine.length > 0 ? mine.map((p) => p.message).join('; ') : undefined;
}

let csrf = '';
let loggedOut: () => void = () => undefined;

/** The CSRF token of the session: echoed in X-CSRF-Token on every change made with the cookie. */
export function setCsrf(token: string): void {
  csrf = token;
}

/** Called when the API answers 401 (the session ended): the app shows the login page. */
export function onLoggedOut(f: () => void): void {
  loggedOut = f;
}

const session: Middleware = {
  onRequest({ request }) {
    if (request.method !== 'GET') request.headers.set('x-csrf-token', csrf);
    return request;
  },
  onResponse({ request, response }) {
    if (response.status === 401 && !request.url.endsWith('/v1/auth/login')) loggedOut();
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: location.origin, credentials: 'same-origin' });
api.use(session);

type ErrorBody = Partial<Schemas['Error']>;

/** The body of a successful answer, or an ApiProblem with the server's message and field. */
export async function ok<T>(
  call: Promise<{ data?: unknown; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok) return data as T;
  const e = (error ?? {}) as ErrorBody;
  throw new ApiProblem(
    e.error?.message ?? `HTTP ${response.status}`,
    response.status,
    e.error?.field,
    e.error?.errors ?? [],
  );
}

/** `"12"`: the If-Match header that makes a write apply only to the revision shown. */
export const ifMatch = (revision: number) => ({ 'If-Match': `"${revision}"` });

export const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));
