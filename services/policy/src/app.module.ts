import { Module, type DynamicModule } from '@nestjs/common';
import { Messaging } from '@tapgate/messaging';
import { AdminGuard } from './auth/admin.guard';
import { AdminTokenAuthenticator } from './auth/admin-token.authenticator';
import { ADMIN_AUTHENTICATORS } from './auth/principal';
import { EnrollmentsController } from './enrollments/enrollments.controller';
import { EnrollmentsService } from './enrollments/enrollments.service';
import { UserDirectory } from './enrollments/user-directory';
import { HealthController } from './health/health.controller';
import { POLICY_SETTINGS, type PolicySettings } from './policy-settings';
import { Buckets } from './store/buckets';
import { TerminalsController } from './terminals/terminals.controller';
import { TerminalsService } from './terminals/terminals.service';

export interface PolicyDeps {
  settings: PolicySettings;
  messaging: Messaging;
  buckets: Buckets;
}

/**
 * The policy service. Connections (NATS, buckets) are made by bootstrap() and handed in, so it owns their
 * lifecycle and tests can boot the real module in-process. Policies and the admin console join as modules.
 */
@Module({})
export class PolicyAppModule {
  static forRoot(deps: PolicyDeps): DynamicModule {
    return {
      module: PolicyAppModule,
      controllers: [HealthController, EnrollmentsController, TerminalsController],
      providers: [
        { provide: POLICY_SETTINGS, useValue: deps.settings },
        { provide: Messaging, useValue: deps.messaging },
        { provide: Buckets, useValue: deps.buckets },
        { provide: UserDirectory, useFactory: () => new UserDirectory(deps.messaging) },
        {
          provide: ADMIN_AUTHENTICATORS,
          useFactory: () => [new AdminTokenAuthenticator(deps.settings.adminToken, deps.settings.adminName)],
        },
        AdminGuard,
        EnrollmentsService,
        TerminalsService,
      ],
    };
  }
}
