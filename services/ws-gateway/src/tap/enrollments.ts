import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { EnrollmentRecord, KvBuckets } from '@tapgate/contracts';
import { importBandPublicKey } from '@tapgate/band';
import { KvCache, type Messaging } from '@tapgate/messaging';
import type { KeyObject } from 'node:crypto';
import { MESSAGING } from '../tokens';

export interface Enrollment {
  record: EnrollmentRecord;
  /** Imported once per change, so a tap never parses a key. Absent for UID badges. */
  publicKey: KeyObject | undefined;
}

/** The enrollments bucket as a local read cache: band id -> enrolled user and public key. */
@Injectable()
export class EnrollmentDirectory implements OnModuleInit, OnModuleDestroy {
  private readonly cache: KvCache<EnrollmentRecord, Enrollment>;

  constructor(@Inject(MESSAGING) messaging: Messaging) {
    this.cache = new KvCache(messaging, KvBuckets.enrollments, EnrollmentRecord, (record) => ({
      record,
      publicKey: record.publicKey ? importBandPublicKey(record.publicKey) : undefined,
    }));
  }

  onModuleInit(): void {
    this.cache.start();
  }

  onModuleDestroy(): void {
    this.cache.stop();
  }

  ready(): boolean {
    return this.cache.ready();
  }

  get(bandId: string): Enrollment | undefined {
    return this.cache.get(bandId);
  }
}
