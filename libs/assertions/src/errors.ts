/** Why an assertion was refused. An NEA backend signs the user in only when verify() returns. */
export type AssertionFailure =
  | 'bad_signature'
  | 'expired'
  | 'wrong_audience'
  | 'wrong_issuer'
  | 'wrong_kind'
  | 'replayed'
  | 'malformed'
  | 'unknown_key'
  | 'jwks_unavailable';

export class AssertionError extends Error {
  override readonly name = 'AssertionError';
  constructor(
    readonly reason: AssertionFailure,
    message: string,
  ) {
    super(`${reason}: ${message}`);
  }
}
