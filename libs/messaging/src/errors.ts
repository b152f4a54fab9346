/** Why a request got no valid answer. Callers map every kind to a refusal: none of them is a "yes". */
export type RequestErrorKind = 'no_responders' | 'timeout' | 'invalid_reply' | 'remote_error' | 'closed';

export class RequestError extends Error {
  override readonly name = 'RequestError';
  constructor(
    readonly kind: RequestErrorKind,
    readonly subject: string,
    message: string,
  ) {
    super(`${subject}: ${message}`);
  }
}

/** Thrown by a responder to send a coded error reply instead of a generic one. */
export class RemoteError extends Error {
  override readonly name = 'RemoteError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Header names of an error reply. Part of the wire contract: never rename. */
export const ERROR_HEADER = 'Tapgate-Error';
export const ERROR_MESSAGE_HEADER = 'Tapgate-Error-Message';
