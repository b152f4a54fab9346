import {
  BASELINE_REFRESH_MS,
  KvBuckets,
  ServiceBaseline,
  baselineKey,
  type BaselineService,
  type BaselineSettings,
} from '@tapgate/contracts';
import { createLogger } from '@tapgate/telemetry';
import { openBucket } from './kv-cache';
import type { Messaging } from './messaging';

const log = createLogger('baseline-publisher');

export interface BaselinePublisher {
  /** Publishes a changed baseline (an operator hook changed the configured values). */
  update(settings: Partial<BaselineSettings>): void;
  /** Stops refreshing and deletes this replica's entry (a clean stop). */
  stop(): Promise<void>;
}

/**
 * Publishes what this replica runs with (its baseline) to KvBuckets.policyBaselines, at once and every
 * BASELINE_REFRESH_MS, so the policy service explains from the services' real configuration. Failures
 * are logged and retried at the next refresh: enforcement never depends on this entry.
 */
export function publishBaseline(
  messaging: Messaging,
  report: {
    service: BaselineService;
    instance: string;
    settings: Partial<BaselineSettings>;
    keys: Record<string, string>;
  },
): BaselinePublisher {
  const key = baselineKey(report.service, report.instance);
  let settings = report.settings;
  let stopped = false;
  const put = async (): Promise<void> => {
    if (stopped) return;
    try {
      const entry = ServiceBaseline.parse({
        v: 1,
        service: report.service,
        instance: report.instance,
        at: new Date().toISOString(),
        settings,
        keys: report.keys,
      });
      const kv = await openBucket(messaging, KvBuckets.policyBaselines);
      await kv.put(key, JSON.stringify(entry));
    } catch (e) {
      log.warn({ key, err: (e as Error).message }, 'baseline not published; retrying at the next refresh');
    }
  };
  // The last write in flight, so stop() deletes after it and not before.
  let pending = put();
  const timer = setInterval(() => {
    pending = put();
  }, BASELINE_REFRESH_MS);
  timer.unref();
  return {
    update(next) {
      settings = next;
      pending = put();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await pending;
      try {
        const kv = await openBucket(messaging, KvBuckets.policyBaselines);
        await kv.delete(key);
      } catch {
        // Gone with NATS: the entry ages out (BASELINE_STALE_MS) in the policy service's view.
      }
    },
  };
}
