import { KvBuckets } from '@tapgate/contracts';
import { openBucket, type Messaging } from '@tapgate/messaging';
import { createLogger } from '@tapgate/telemetry';
import type { KV } from 'nats';
import { ApiError } from '../common/api-error';

const RETRY_MS = 500;

export type BucketName = (typeof KvBuckets)[keyof Pick<
  typeof KvBuckets,
  'enrollments' | 'terminals' | 'policies' | 'applications' | 'enrollmentSessions'
>];

/**
 * The KV buckets the policy service owns. They are opened (created when missing) in the background and
 * retried, so the service starts and reports "not ready" while NATS or JetStream is unreachable.
 */
export class Buckets {
  private readonly log = createLogger('policy-buckets');
  private readonly open = new Map<BucketName, KV>();
  private stopped = false;
  private readonly opening: Promise<void>;

  constructor(
    private readonly messaging: Messaging,
    private readonly names: readonly BucketName[] = [
      KvBuckets.enrollments,
      KvBuckets.terminals,
      KvBuckets.policies,
      KvBuckets.applications,
      KvBuckets.enrollmentSessions,
    ],
  ) {
    this.opening = this.openAll();
  }

  private async openAll(): Promise<void> {
    for (const name of this.names) {
      while (!this.stopped && !this.open.has(name)) {
        try {
          this.open.set(name, await openBucket(this.messaging, name));
          this.log.info({ bucket: name }, 'kv bucket open');
        } catch (e) {
          if (this.stopped) return;
          this.log.warn({ bucket: name, err: (e as Error).message }, 'cannot open kv bucket; retrying');
          await new Promise((r) => setTimeout(r, RETRY_MS));
        }
      }
    }
  }

  /** Resolves once every bucket is open (or the service is stopping). */
  whenOpen(): Promise<void> {
    return this.opening;
  }

  ready(): boolean {
    return this.names.every((n) => this.open.has(n)) && this.messaging.isConnected();
  }

  kv(name: BucketName): KV {
    const kv = this.open.get(name);
    // While NATS is reconnecting a KV call would only wait for its timeout; answer 503 at once instead.
    if (!kv || !this.messaging.isConnected()) {
      throw new ApiError('unavailable', 'the enrollment store (NATS JetStream) is not available yet');
    }
    return kv;
  }

  stop(): void {
    this.stopped = true;
  }
}
