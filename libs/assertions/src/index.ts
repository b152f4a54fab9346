export {
  AssertionSigner,
  AssertionClaimsError,
  ASSERTION_TYP,
  DEFAULT_ISSUER,
  DEFAULT_TTL_SECONDS,
  type AssertionInput,
  type AssertionSignerOptions,
  type SignedAssertion,
} from './signer';
export {
  AssertionVerifier,
  MAX_CLOCK_TOLERANCE_SECONDS,
  type AssertionVerifierOptions,
  type ExpectedAssertion,
  type ExpectedCeremony,
  type VerifiedCeremony,
} from './verifier';
export { AssertionError, type AssertionFailure } from './errors';
export { MemoryReplayStore, type ReplayStore } from './replay-store';
export { RemoteJwks, type RemoteJwksOptions } from './jwks';
export {
  generateSigningKeyFile,
  parseSigningKey,
  ecThumbprint,
  SigningKeyError,
  type PublicJwk,
  type SigningKey,
} from './keys';
