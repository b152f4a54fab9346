import type { Messaging } from '@tapgate/messaging';
import type { Redis } from 'ioredis';
import type { Directory } from './directory/directory';
import type { PolicySource } from './policy/policy-source';
import type { UserStatusService } from './status/user-status.service';

/** Injection token for the objects bootstrap() builds before Nest starts. */
export const APP_DEPS = Symbol('user-status deps');

export interface AppDeps {
  service: UserStatusService;
  directory: Directory;
  redis: Redis;
  messaging: Messaging;
  policy: PolicySource;
  /** Bearer credential of the cache-invalidation API; undefined disables that API. */
  adminToken?: string;
}
