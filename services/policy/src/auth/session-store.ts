import { createHash, randomBytes } from 'node:crypto';
import { KvBuckets } from '@tapgate/contracts';
import { openKv, type Messaging } from '@tapgate/messaging';
import type { KV } from 'nats';
import { z } from 'zod';
import { ApiError } from '../common/api-error';
import type { Role } from './principal';

const Session = z
  .object({
    user: z.string(),
    displayName: z.string().optional(),
    role: z.enum(['admin', 'viewer']),
    csrf: z.string(),
    expiresAt: z.number().int(),
  })
  .strict();
export type Session = z.infer<typeof Session>;

const hash = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

/**
 * Administrator sessions in a JetStream KV bucket, so every policy replica knows them. Only the
 * token's SHA-256 is stored (a bucket reader cannot become an administrator); entries expire with the
 * bucket's TTL, and each read also checks `expiresAt`.
 */
export class SessionStore {
  private kv: Promise<KV> | undefined;

  constructor(
    private readonly messaging: Messaging,
    private readonly ttlMs: number,
  ) {}

  private bucket(): Promise<KV> {
    this.kv ??= openKv(this.messaging, KvBuckets.adminSessions, { history: 1, ttl: this.ttlMs }).catch(
      (e: unknown) => {
        this.kv = undefined;
        throw e;
      },
    );
    return this.kv;
  }

  async create(user: string, role: Role, displayName?: string): Promise<{ token: string; session: Session }> {
    const token = randomBytes(32).toString('base64url');
    const session: Session = {
      user,
      role,
      csrf: randomBytes(24).toString('base64url'),
      expiresAt: Date.now() + this.ttlMs,
      ...(displayName ? { displayName } : {}),
    };
    try {
      await (await this.bucket()).put(hash(token), JSON.stringify(session));
    } catch {
      throw new ApiError('unavailable', 'sessions cannot be stored (NATS JetStream unavailable)');
    }
    return { token, session };
  }

  /** The live session of a token; undefined when unknown, expired or unreadable (never throws). */
  async get(token: string): Promise<Session | undefined> {
    try {
      const e = await (await this.bucket()).get(hash(token));
      if (!e || e.operation !== 'PUT') return undefined;
      const s = Session.safeParse(JSON.parse(new TextDecoder().decode(e.value)));
      return s.success && s.data.expiresAt > Date.now() ? s.data : undefined;
    } catch {
      return undefined;
    }
  }

  async remove(token: string): Promise<void> {
    await (await this.bucket()).delete(hash(token)).catch(() => undefined);
  }
}
