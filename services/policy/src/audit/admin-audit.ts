import { ADMIN_AUDIT_STREAM, AdminAudit, AdminAuditRecord, receiving } from '@tapgate/contracts';
import type { Messaging } from '@tapgate/messaging';
import { createLogger } from '@tapgate/telemetry';
import { RetentionPolicy, StorageType, type JetStreamManager } from 'nats';
import { readStream } from '@tapgate/audit';
import type { Principal } from '../auth/principal';

const decoder = new TextDecoder();
const MAX_SCAN = 5000;

export interface AdminAuditQuery {
  limit: number;
  /** Matching records (newest first) to skip: the page's start. */
  offset?: number;
  actor?: string;
  action?: string;
  target?: string;
  from?: Date;
  to?: Date;
}

/** Fields no audit record may carry (a terminal credential is shown once, never stored). */
const SECRET_FIELDS = new Set(['credential', 'credentialSha256', 'password', 'token']);
function scrub(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(scrub);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([k]) => !SECRET_FIELDS.has(k))
        .map(([k, x]) => [k, scrub(x)]),
    );
  }
  return v;
}

/**
 * Who changed what, when, with the before and after values: a JetStream stream (limits retention,
 * never discarded by the service), so every replica appends to and reads one history.
 */
export class AdminAuditLog {
  private readonly log = createLogger('admin-audit');
  private ensured: Promise<JetStreamManager> | undefined;

  constructor(private readonly messaging: Messaging) {}

  private jsm(): Promise<JetStreamManager> {
    this.ensured ??= (async () => {
      const nc = await this.messaging.connection();
      const jsm = await nc.jetstreamManager();
      try {
        await jsm.streams.info(ADMIN_AUDIT_STREAM);
      } catch {
        await jsm.streams.add({
          name: ADMIN_AUDIT_STREAM,
          subjects: [AdminAudit.subject],
          retention: RetentionPolicy.Limits,
          storage: StorageType.File,
          num_replicas: this.messaging.jetstreamReplicas,
        });
      }
      return jsm;
    })().catch((e: unknown) => {
      this.ensured = undefined;
      throw e;
    });
    return this.ensured;
  }

  /** Appends one record; resolves false (and logs) when it could not be stored. */
  async record(
    actor: Principal | { name: string; via: Principal['via'] },
    action: string,
    change: { target?: { type: string; id: string }; before?: unknown; after?: unknown; from?: string } = {},
  ): Promise<boolean> {
    const rec: AdminAuditRecord = AdminAuditRecord.parse({
      v: 1,
      at: new Date().toISOString(),
      actor: actor.name,
      via: actor.via,
      action,
      ...(change.target ? { target: change.target } : {}),
      ...(change.before !== undefined ? { before: scrub(change.before) } : {}),
      ...(change.after !== undefined ? { after: scrub(change.after) } : {}),
      ...(change.from ? { from: change.from.slice(0, 64) } : {}),
    });
    try {
      await this.jsm();
      const nc = await this.messaging.connection();
      await nc.jetstream().publish(AdminAudit.subject, JSON.stringify(rec));
      return true;
    } catch (e) {
      this.log.error({ err: (e as Error).message, action, actor: actor.name }, 'admin audit append failed');
      return false;
    }
  }

  /**
   * One page, newest first, filtered; `more` says whether a further match exists. Scans at most the
   * newest 5000 records.
   */
  async page(
    q: AdminAuditQuery,
  ): Promise<{ items: Array<AdminAuditRecord & { seq: number }>; more: boolean }> {
    const offset = q.offset ?? 0;
    const found = await this.list({ ...q, limit: offset + q.limit + 1 });
    return { items: found.slice(offset, offset + q.limit), more: found.length > offset + q.limit };
  }

  /** Newest first, filtered; scans at most the newest 5000 records. */
  async list(q: AdminAuditQuery): Promise<Array<AdminAuditRecord & { seq: number }>> {
    const jsm = await this.jsm();
    const info = await jsm.streams.info(ADMIN_AUDIT_STREAM);
    const out: Array<AdminAuditRecord & { seq: number }> = [];
    const last = info.state.last_seq;
    const first = Math.max(info.state.first_seq, last - MAX_SCAN + 1);
    const has = (hay: string | undefined, needle: string | undefined) =>
      needle === undefined || (hay ?? '').toLowerCase().includes(needle.toLowerCase());
    for (let seq = last; seq >= first && seq > 0 && out.length < q.limit; seq--) {
      const m = await jsm.streams.getMessage(ADMIN_AUDIT_STREAM, { seq }).catch(() => undefined);
      if (!m) continue;
      let parsed;
      try {
        parsed = receiving(AdminAuditRecord).safeParse(JSON.parse(decoder.decode(m.data)));
      } catch {
        continue;
      }
      if (!parsed.success) continue;
      const r = parsed.data;
      const at = new Date(r.at);
      if (q.from && at < q.from) break;
      if (q.to && at >= q.to) continue;
      if (!has(r.actor, q.actor) || !has(r.action, q.action)) continue;
      if (!has(r.target ? `${r.target.type}:${r.target.id}` : undefined, q.target)) continue;
      out.push({ ...r, seq });
    }
    return out;
  }

  /**
   * Every record about a target of `type` (and `id`, when given), oldest first: the whole stream, read in
   * batches by an ordered consumer (a round trip per 256 records, not one per record). Policy histories.
   */
  async about(type: string, id?: string): Promise<Array<AdminAuditRecord & { seq: number }>> {
    const jsm = await this.jsm();
    const { first_seq: first, last_seq: last } = (await jsm.streams.info(ADMIN_AUDIT_STREAM)).state;
    const js = (await this.messaging.connection()).jetstream();
    const out: Array<AdminAuditRecord & { seq: number }> = [];
    for await (const m of readStream(js, { seq: first }, last, ADMIN_AUDIT_STREAM)) {
      let parsed;
      try {
        parsed = receiving(AdminAuditRecord).safeParse(JSON.parse(decoder.decode(m.data)));
      } catch {
        continue;
      }
      if (!parsed.success) continue;
      const t = parsed.data.target;
      if (t?.type === type && (id === undefined || t.id === id)) out.push({ ...parsed.data, seq: m.seq });
    }
    return out;
  }
}
