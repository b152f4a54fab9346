// Response shapes, imported (type-only) from the contracts and the policy service that produce them.
import type { AdminAuditRecord, EffectivePolicy, EnrollmentRecord, PolicyRecord } from '@tapgate/contracts';
import type {
  ApplicationView as AppRecord,
  TerminalActivityView,
  TerminalView as TermRecord,
} from '@tapgate/policy';

export type { BindingState, EnrollmentSessionView, InheritedValues } from '@tapgate/policy';
export type { EffectivePolicy, PolicyRecord };
export type Versioned<T> = T & { revision: number };
export type PolicyView = Versioned<PolicyRecord>;
export type EnrollmentView = Versioned<EnrollmentRecord>;
export type TerminalView = Versioned<TermRecord> & { activity?: Partial<TerminalActivityView> };
export type ApplicationView = Versioned<AppRecord>;
export type AdminChange = AdminAuditRecord & { seq: number };
