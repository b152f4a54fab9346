/** Why an assertion was refused. An NEA backend signs the user in only when verify() returns. */
export type AssertionFailure =
  | 'bad_signature'
  | 'expired'
  | 'wrong_audience'
  | 'wrong_issuer'
  | 'wrong_kind'
  /** The assertion's `nonce` is not the one this relying party issued for the request. */
  | 'wrong_nonce'
  /** The e-signature's `recordHash` is not the hash of the record the relying party is signing. */
  | 'wrong_record'
  /** `iat` lies in the future beyond the clock tolerance (this server's clock runs behind). */
  | 'not_yet_valid'
  /** `exp - iat` is longer than any assertion lives. */
  | 'too_long_lived'
  /** An e-signature set that is not one whole ceremony (ids, order, link, count, record). */
  | 'wrong_ceremony'
  /** Both signatures of a two-signer ceremony are by the same person. */
  | 'same_signer'
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
