// For other packages' tests and the demo: boot the service in-process, or call its API.
export { bootstrap, type PolicyServer } from './bootstrap';
export { POLICY_CONFIG_SECTIONS, type PolicyConfig } from './policy-settings';
export { PolicyClient, PolicyApiError, type ApiErrorBody } from './cli/policy-client';
export { startPolicy, startUserStatusDouble, type PolicyHarness } from './testing/policy-harness';
// Response shapes for the console's typed client (tools/console), type-only.
export type { InheritedValues, PolicyRevision } from './policies/policies.service';
export type { UserDetails } from './users/users.service';
export type { DirectorySearchResult, DirectoryUser } from './users/directory-search';
export type { TerminalActivityView, TapSeen } from './terminals/terminal-activity';
export type { TerminalLive, LiveApplication, LiveEndpoint } from './terminals/gateway-connections';
export type { TerminalView } from './terminals/terminals.service';
export type { BindingState } from './enrollments/user-directory';
export type { ApplicationView } from './applications/applications.service';
export type { DecisionPage, DecisionSummary, ScanHealth } from '@tapgate/audit';
export type { EnrollmentSessionView } from './enrollments/enrollment-sessions.service';
