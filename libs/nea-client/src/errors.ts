/**
 * Why an operation did not produce a result: `disconnected` (the socket closed or was never open),
 * `closed` (close() was called), `timeout`, `conflict` (one login at a time), `protocol_error` (the
 * server answered something unusable), or an error code the server sent (docs/protocol.md §8).
 */
export class TapgateError extends Error {
  override readonly name = 'TapgateError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
