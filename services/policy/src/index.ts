// For other packages' tests and the demo: boot the service in-process, or call its API.
export { bootstrap, type PolicyServer } from './bootstrap';
export { POLICY_CONFIG_SECTIONS, type PolicyConfig } from './policy-settings';
export { PolicyClient, PolicyApiError, type ApiErrorBody } from './cli/policy-client';
export { startPolicy, startUserStatusDouble, type PolicyHarness } from './testing/policy-harness';
