/** Error codes of the REST API (the `error.code` member). Part of the API contract: never rename. */
export type ApiErrorCode =
  | 'invalid_request'
  | 'invalid_public_key'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'unknown_user'
  | 'unavailable'
  | 'user_status_unavailable'
  | 'directory_not_configured'
  | 'directory_unavailable'
  | 'internal_error'
  | 'too_many_requests'
  /** Enrollment by tap: the terminal's endpoint is not connected to any gateway. */
  | 'terminal_offline'
  /** Enrollment by tap: the terminal already has an open enrollment session. */
  | 'session_open';

const STATUS: Record<ApiErrorCode, number> = {
  invalid_request: 400,
  invalid_public_key: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  unknown_user: 422,
  unavailable: 503,
  user_status_unavailable: 503,
  directory_not_configured: 503,
  directory_unavailable: 503,
  internal_error: 500,
  too_many_requests: 429,
  terminal_offline: 409,
  session_open: 409,
};

/** One problem with one field of a request (a validation error lists them all). */
export interface FieldProblem {
  /** Dotted path of the field, e.g. `settings.activeDirectory.cacheExpirySeconds`; "" for the whole body. */
  path: string;
  message: string;
}

/**
 * A refusal the API reports as `{ "error": { code, message, field?, errors? } }` with the code's HTTP status.
 * `errors` lists every problem of an invalid request at once; `message` and `field` repeat the first.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;

  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly field?: string,
    /** Overrides the code's usual status (e.g. 413 for an oversized body, still `invalid_request`). */
    status?: number,
    readonly errors?: FieldProblem[],
  ) {
    super(message);
    this.status = status ?? STATUS[code];
  }

  toBody(): {
    error: { code: ApiErrorCode; message: string; field?: string; errors?: FieldProblem[] };
  } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.field ? { field: this.field } : {}),
        ...(this.errors ? { errors: this.errors } : {}),
      },
    };
  }
}

export const notFound = (what: string, id: string): ApiError =>
  new ApiError('not_found', `${what} ${id} not found`);
