import type { z } from 'zod';
import { ApiError } from './api-error';

/**
 * Validates a request body, query or path parameter; the first problem becomes a 400 naming its field.
 * `refine` may turn that error into a more specific one.
 */
export function parseInput<T>(
  schema: z.ZodType<T>,
  input: unknown,
  refine: (e: ApiError) => ApiError = (e) => e,
): T {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  if (!issue) throw refine(new ApiError('invalid_request', 'invalid request'));
  let field = issue.path.map(String).join('.');
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    field = field ? `${field}.${key}` : key;
    message = `unknown field "${key}"`;
  } else if (issue.code === 'invalid_type' && issue.input === undefined) {
    message = 'required';
  }
  throw refine(new ApiError('invalid_request', field ? `${field}: ${message}` : message, field || undefined));
}

/**
 * Reads an optional `If-Match: "<revision>"` header. With it, a write applies only if the record is still at
 * that KV revision (the one the client saw in the ETag or `revision`), so two administrators editing the same
 * record cannot silently overwrite each other.
 */
export function parseIfMatch(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const text = (Array.isArray(header) ? header.join(',') : header).trim();
  if (text === '*') return undefined;
  const m = /^"?(\d{1,15})"?$/.exec(text);
  const revision = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(revision) || revision < 1) {
    throw new ApiError('invalid_request', 'If-Match must be one revision, e.g. "12"', 'If-Match');
  }
  return revision;
}
