import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './generated/api';

/** Request bodies as the policy service's OpenAPI document declares them (generated, never copied). */
export type Schemas = components['schemas'];

/** A refusal from the API: its message and, for a validation error, the field it names. */
export class ApiProblem extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly field?: string,
  ) {
    super(message);
  }
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

interface ErrorBody {
  error?: { message?: string; field?: string };
}

/** The body of a successful answer, or an ApiProblem with the server's message and field. */
export async function ok<T>(
  call: Promise<{ data?: unknown; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok) return data as T;
  const e = (error ?? {}) as ErrorBody;
  throw new ApiProblem(e.error?.message ?? `HTTP ${response.status}`, response.status, e.error?.field);
}

/** `"12"`: the If-Match value that makes a write apply only to the revision shown. */
export const ifMatch = (revision: number) => ({ 'If-Match': `"${revision}"` });

export const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));
