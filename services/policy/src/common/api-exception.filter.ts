import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { createLogger } from '@tapgate/telemetry';
import type { ServerResponse } from 'node:http';
import { ApiError, type ApiErrorCode } from './api-error';

/** Nest's own exceptions (unknown route, unparsable JSON body, oversized body) in the API's error shape. */
function fromHttpException(e: HttpException): ApiError {
  const status = e.getStatus();
  if (status >= 500) return new ApiError('internal_error', 'internal error');
  if (status === 404) return new ApiError('not_found', 'no such route');
  const code: ApiErrorCode =
    status === 401 ? 'unauthorized' : status === 403 ? 'forbidden' : 'invalid_request';
  return new ApiError(code, e.message, undefined, status);
}

/**
 * Turns every error into `{ "error": { code, message, field? } }`. Anything unexpected becomes a bare 500
 * whose details stay in the log, so internals (and any secret they might hold) never reach a client.
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly log = createLogger('policy-api');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<ServerResponse>();
    let err: ApiError;
    if (exception instanceof ApiError) {
      err = exception;
    } else if (exception instanceof HttpException) {
      err = fromHttpException(exception);
    } else if (isBodyParserError(exception)) {
      err = new ApiError('invalid_request', exception.message.slice(0, 200), undefined, exception.status);
    } else {
      this.log.error({ err: exception }, 'request failed');
      err = new ApiError('internal_error', 'internal error');
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    if (err.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="tapgate-policy"');
    res.statusCode = err.status;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(err.toBody()));
  }
}

/** body-parser errors carry an HTTP status (400 bad JSON, 413 too large, 415 bad charset). */
function isBodyParserError(e: unknown): e is Error & { status: number } {
  const status = (e as { status?: unknown } | null)?.status;
  return e instanceof Error && typeof status === 'number' && status >= 400 && status < 500;
}
