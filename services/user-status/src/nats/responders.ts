import { ACCEPTS_STATUS_REUSE, UserStatusGet, UserStatusInvalidate } from '@tapgate/contracts';
import { RemoteError, type Messaging, type Unsubscribe } from '@tapgate/messaging';
import { createLogger } from '@tapgate/telemetry';
import type { UserStatusService } from '../status/user-status.service';

/** Answers UserStatusGet and UserStatusInvalidate in the "user-status" queue group (one replica each). */
export function registerResponders(messaging: Messaging, service: UserStatusService): Unsubscribe {
  const log = createLogger('UserStatusResponders');
  const offGet = messaging.respond(
    UserStatusGet,
    async (req, ctx) => {
      const answer = await service.get(req.user, req.objectGUID);
      // The reuse offer goes only to askers that said they read it: older ones refuse unknown fields.
      if (answer.reuse === undefined || ctx.headers?.has(ACCEPTS_STATUS_REUSE)) return answer;
      const { reuse: _notAsked, ...plain } = answer;
      return plain;
    },
    { queue: 'user-status' },
  );
  const offInvalidate = messaging.respond(
    UserStatusInvalidate,
    async (req) => {
      try {
        const removed = await service.invalidate(req.user);
        log.info({ user: req.user, removed }, 'status cache entry invalidated');
        return { v: 1 as const, removed };
      } catch (e) {
        throw new RemoteError('cache_unavailable', `status cache unavailable: ${(e as Error).message}`);
      }
    },
    { queue: 'user-status' },
  );
  return () => {
    offGet();
    offInvalidate();
  };
}
