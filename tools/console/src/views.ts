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

export type { BindingState, InheritedValues } from '@tapgate/policy';
export type { EffectivePolicy, PolicyRecord };
export type Versioned<T> = T & { revision: number };
export type PolicyView = Versioned<PolicyRecord>;
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
