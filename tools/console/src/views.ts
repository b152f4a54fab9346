// Response shapes, imported (type-only) from the contracts and the policy service that produce them.
import type { AdminAuditRecord, EffectivePolicy, EnrollmentRecord, PolicyRecord } from '@tapgate/contracts';
import type {
  ApplicationView as AppRecord,
  DecisionPage,
  DecisionSummary,
  ScanHealth,
  TerminalActivityView,
  TerminalLive,
  TerminalView as TermRecord,
} from '@tapgate/policy';

export type {
  BindingState,
  DirectorySearchResult,
  EnrollmentSessionView,
  InheritedValues,
  PolicyRevision,
  UserDetails,
} from '@tapgate/policy';
export type { EffectivePolicy, PolicyRecord };
export type Versioned<T> = T & { revision: number };
/** `policyRevision`: the policy's own revision number (`revision` is the KV one, for If-Match). */
export type PolicyView = Versioned<PolicyRecord> & { policyRevision?: number };
/** A saved policy: `warnings` when it may not do what was meant (an unknown user or group). */
export type SavedPolicy = PolicyView & { warnings?: Array<{ path: string; message: string }> };
export type EnrollmentView = Versioned<EnrollmentRecord>;
export type TerminalView = Versioned<TermRecord> & {
  activity?: Partial<TerminalActivityView>;
  live: TerminalLive;
};
/** GET /v1/terminals: the terminals and which gateway replicas answered for their live state. */
export interface TerminalList {
  items: TerminalView[];
  gateways: { known: boolean; answered: string[]; truncated: boolean; why?: string };
}
export type DecisionPageView = DecisionPage & ScanHealth;
export type SummaryView = DecisionSummary & ScanHealth;
export type { TerminalLive };
export type ApplicationView = Versioned<AppRecord>;
export type AdminChange = AdminAuditRecord & { seq: number };
