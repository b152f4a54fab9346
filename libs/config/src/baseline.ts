import type { BaselineSettings } from '@tapgate/contracts';
import type { GatewaySettings } from './sections/gateway';
import type { UserStatusSettings } from './sections/user-status';

/** A service's baseline: the values it runs with and, per field, the configuration key they come from. */
export interface BaselineOf<K extends keyof BaselineSettings> {
  settings: Pick<BaselineSettings, K>;
  keys: Record<string, string>;
}

/**
 * What the gateway enforces before any policy: the one mapping from [gateway] to the tap and
 * e-signature baseline, used by the gateway itself and by the policy service's fallback.
 */
export function gatewayBaseline(
  g: Pick<GatewaySettings, 'allowBleTaps' | 'allowUidTaps' | 'requirePresence' | 'esignTimeoutMs'>,
): BaselineOf<'tap' | 'esign'> {
  return {
    settings: {
      tap: { allowBleTaps: g.allowBleTaps, allowUidTaps: g.allowUidTaps, requirePresence: g.requirePresence },
      // A second signer who is the first is never accepted unless a policy says so; no key turns it off.
      esign: { secondSignerMustDiffer: true, ceremonyTimeoutSeconds: g.esignTimeoutMs / 1000 },
    },
    keys: {
      'tap.allowBleTaps': '[gateway] allow_ble_taps',
      'tap.allowUidTaps': '[gateway] allow_uid_taps',
      'tap.requirePresence': '[gateway] require_presence',
      'esign.secondSignerMustDiffer': '(fixed: on)',
      'esign.ceremonyTimeoutSeconds': '[gateway] esign_timeout_ms',
    },
  };
}

/** What user-status applies before any policy: [user_status] check/cache/expiry. */
export function userStatusBaseline(
  u: Pick<UserStatusSettings, 'checkUserStatus' | 'cacheUserStatus' | 'cacheExpirySeconds'>,
): BaselineOf<'activeDirectory'> {
  return {
    settings: {
      activeDirectory: {
        checkUserStatus: u.checkUserStatus,
        cacheUserStatus: u.cacheUserStatus,
        cacheExpirySeconds: u.cacheExpirySeconds,
      },
    },
    keys: {
      'activeDirectory.checkUserStatus': '[user_status] check_user_status',
      'activeDirectory.cacheUserStatus': '[user_status] cache_user_status',
      'activeDirectory.cacheExpirySeconds': '[user_status] cache_expiry_seconds',
    },
  };
}
