import { createHash } from 'node:crypto';
import { AuditRecord, receiving } from '@tapgate/contracts';

/** prevHash of the first record. */
export const GENESIS_HASH = '0'.repeat(64);

/** What a writer supplies; the trail adds prevHash and hash. */
export type AuditInput = Omit<AuditRecord, 'prevHash' | 'hash'>;
export const AuditInput = AuditRecord.omit({ prevHash: true, hash: true });

/**
 * JSON with object keys sorted at every level and no whitespace; undefined members are left out, as
 * JSON.stringify does. The same record therefore always hashes the same, whoever serialised it.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`cannot serialise ${typeof value}`);
    return text;
  }
  if (Array.isArray(value)) {
    return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** hash = SHA-256(prevHash + canonical JSON of the record without `hash`), lower-case hex. */
export function recordHash(record: Omit<AuditRecord, 'hash'> & { hash?: string }): string {
  const { hash: _ignored, ...body } = record;
  return createHash('sha256').update(record.prevHash).update(canonicalJson(body)).digest('hex');
}

/** Links `input` to the chain after `prevHash`. */
export function chainRecord(input: AuditInput, prevHash: string): AuditRecord {
  const linked = { ...input, prevHash };
  return { ...linked, hash: recordHash(linked) };
}

export type ChainBreak = 'hash_mismatch' | 'prev_hash_mismatch' | 'invalid_record' | 'missing_record';

/** Checks one stored record against the hash that precedes it; returns the problem, if any. */
export function checkLink(
  raw: unknown,
  prevHash: string,
): { ok: true; record: AuditRecord } | { ok: false; why: ChainBreak; detail: string } {
  // A newer gateway's record may hold fields this reader does not know; the hash covers them all.
  const parsed = receiving(AuditRecord).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      why: 'invalid_record',
      detail: `${issue?.path.join('.') || 'record'}: ${issue?.message}`,
    };
  }
  const record = parsed.data;
  // Hashed as stored, so nothing the schema might normalise can hide a change.
  const expected = recordHash(raw as AuditRecord);
  if (expected !== record.hash) {
    return { ok: false, why: 'hash_mismatch', detail: `stored hash ${record.hash}, recomputed ${expected}` };
  }
  if (record.prevHash !== prevHash) {
    return {
      ok: false,
      why: 'prev_hash_mismatch',
      detail: `prevHash ${record.prevHash}, previous record's hash ${prevHash}`,
    };
  }
  return { ok: true, record };
}
