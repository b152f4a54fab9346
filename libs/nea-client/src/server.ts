// Node only, never bundled for browsers: what an NEA's server needs to verify the assertions the page
// received. The implementation lives in @tapgate/assertions; this entry saves integrators a second package.
//   const { AssertionVerifier } = require('@tapgate/nea-client/dist/server');
export {
  AssertionVerifier,
  AssertionError,
  MemoryReplayStore,
  type AssertionVerifierOptions,
  type AssertionFailure,
  type ReplayStore,
} from '@tapgate/assertions';
