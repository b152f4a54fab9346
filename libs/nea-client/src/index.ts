// CommonJS entry for Node (tests, server-side rendering). Browsers load dist/esm/nea-client.js.
// Verifying assertions on the NEA's server is @tapgate/assertions' AssertionVerifier (docs/nea-sdk.md).
export * from './nea-client.js';
