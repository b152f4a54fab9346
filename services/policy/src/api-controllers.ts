import { ApplicationsController } from './applications/applications.controller';
import { AuditController } from './audit/audit.controller';
import { AuthController } from './auth/auth.controller';
import { EnrollmentSessionsController } from './enrollments/enrollment-sessions.controller';
import { EnrollmentsController } from './enrollments/enrollments.controller';
import { HealthController } from './health/health.controller';
import { PoliciesController } from './policies/policies.controller';
import { TerminalsController } from './terminals/terminals.controller';
import { UsersController } from './users/users.controller';

/**
 * The controllers of the REST API: what PolicyAppModule mounts (with the console's) and what the OpenAPI
 * document is generated from. One list, so no route can be served without being described.
 */
export const API_CONTROLLERS = [
  HealthController,
  AuthController,
  PoliciesController,
  EnrollmentsController,
  EnrollmentSessionsController,
  TerminalsController,
  ApplicationsController,
  AuditController,
  UsersController,
];
