import { Module, type DynamicModule } from '@nestjs/common';
import { AuditTrail, createAuditApi, createAuditQueries } from '@tapgate/audit';
import { Messaging } from '@tapgate/messaging';
import { API_CONTROLLERS } from './api-controllers';
import { ApplicationsService } from './applications/applications.service';
import { AdminAuditLog } from './audit/admin-audit';
import { DECISION_AUDIT_API, DECISION_AUDIT_QUERIES } from './audit/audit.controller';
import { AdminGuard } from './auth/admin.guard';
import { AdminTokenAuthenticator } from './auth/admin-token.authenticator';
import { BOOTSTRAP_ADMIN, type BootstrapAdminCode } from './auth/bootstrap-code';
import { ADMIN_AUTHENTICATORS, type AdminAuthenticator } from './auth/principal';
import { SessionAuthenticator } from './auth/session.authenticator';
import { SessionStore } from './auth/session-store';
import { EnrollmentSessionsService } from './enrollments/enrollment-sessions.service';
import { EnrollmentsService } from './enrollments/enrollments.service';
import { UserDirectory } from './enrollments/user-directory';
import { PoliciesService } from './policies/policies.service';
import { POLICY_SETTINGS, type PolicySettings } from './policy-settings';
import { Buckets } from './store/buckets';
import { TerminalActivity } from './terminals/terminal-activity';
import { TerminalsService } from './terminals/terminals.service';
import { DirectorySearch } from './users/directory-search';
import { UsersService } from './users/users.service';

export interface PolicyDeps {
  settings: PolicySettings;
  messaging: Messaging;
  buckets: Buckets;
  /** The bootstrap administrator's one-time code, when [policy].bootstrap_admin_file is set. */
  bootstrapCode?: BootstrapAdminCode;
}

/**
 * The policy service's REST API: its controllers and what they need. Connections (NATS, buckets) are made
 * by bootstrap() and handed in, so it owns their lifecycle and tests can boot the real module in-process.
 * The OpenAPI document is generated from this module (admin/openapi.ts).
 */
@Module({})
export class PolicyApiModule {
  static forRoot(deps: PolicyDeps): DynamicModule {
    const sessions = new SessionStore(deps.messaging, deps.settings.sessionTtlMs);
    return {
      module: PolicyApiModule,
      controllers: API_CONTROLLERS,
      providers: [
        { provide: POLICY_SETTINGS, useValue: deps.settings },
        { provide: Messaging, useValue: deps.messaging },
        { provide: Buckets, useValue: deps.buckets },
        { provide: SessionStore, useValue: sessions },
        { provide: BOOTSTRAP_ADMIN, useValue: { code: deps.bootstrapCode } },
        { provide: UserDirectory, useFactory: () => new UserDirectory(deps.messaging) },
        { provide: DirectorySearch, useFactory: () => new DirectorySearch(deps.settings.directory) },
        { provide: AdminAuditLog, useFactory: () => new AdminAuditLog(deps.messaging) },
        { provide: TerminalActivity, useFactory: () => new TerminalActivity(deps.messaging) },
        { provide: AuditTrail, useFactory: () => new AuditTrail(deps.messaging) },
        { provide: DECISION_AUDIT_API, useFactory: createAuditApi, inject: [AuditTrail] },
        { provide: DECISION_AUDIT_QUERIES, useFactory: createAuditQueries, inject: [AuditTrail] },
        {
          provide: ADMIN_AUTHENTICATORS,
          useFactory: (): AdminAuthenticator[] => [
            new SessionAuthenticator(sessions),
            // Break-glass: only when [policy].admin_token_file is configured.
            ...(deps.settings.adminToken
              ? [new AdminTokenAuthenticator(deps.settings.adminToken, deps.settings.adminName)]
              : []),
          ],
        },
        AdminGuard,
        EnrollmentsService,
        EnrollmentSessionsService,
        TerminalsService,
        ApplicationsService,
        PoliciesService,
        UsersService,
      ],
    };
  }
}
