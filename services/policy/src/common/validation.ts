import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { ApiError, type FieldProblem } from './api-error';

/** zod's own wording ("Too small: expected number to be >=5") as a sentence an administrator reads. */
function plainMessage(issue: z.core.$ZodIssue): string {
  // A message the schema chose itself (e.g. "required", "reserved: ...") is kept as written.
  if (!/^(Too small|Too big|Invalid|Unrecognized)/.test(issue.message)) return issue.message;
  switch (issue.code) {
    case 'invalid_type':
      // zod reports the input only when asked to; its message says "received undefined" for a missing field.
      return issue.input === undefined && /received undefined$/.test(issue.message)
        ? 'required'
        : `must be ${article(issue.expected)}`;
    case 'too_small':
      if (issue.origin === 'string') {
        return issue.minimum === 1
          ? 'must not be empty'
          : `must be at least ${String(issue.minimum)} characters`;
      }
      if (issue.origin === 'array') return `must have at least ${String(issue.minimum)} items`;
      return `must be ${issue.inclusive === false ? 'more than' : 'at least'} ${String(issue.minimum)}`;
    case 'too_big':
      if (issue.origin === 'string') return `must be at most ${String(issue.maximum)} characters`;
      if (issue.origin === 'array') return `must have at most ${String(issue.maximum)} items`;
      return `must be ${issue.inclusive === false ? 'less than' : 'at most'} ${String(issue.maximum)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_format':
      return issue.format === 'regex'
        ? 'contains characters that are not allowed here'
        : `must be a valid ${issue.format}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    case 'invalid_union':
      return 'is not in any accepted form';
    case 'invalid_key':
    case 'invalid_element':
      return 'contains an entry that is not allowed';
    case 'unrecognized_keys':
    case 'custom':
      return issue.message;
  }
}

function article(type: string): string {
  const words: Record<string, string> = {
    string: 'text',
    number: 'a number',
    int: 'a whole number',
    boolean: 'true or false',
    object: 'an object',
    array: 'a list',
  };
  return words[type] ?? `a ${type}`;
}

/** Every problem zod found, one per field, in plain language (unknown fields each named). */
export function fieldProblems(error: z.ZodError): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const issue of error.issues) {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        problems.push({ path: path ? `${path}.${key}` : key, message: `unknown field "${key}"` });
      }
    } else {
      problems.push({ path, message: plainMessage(issue) });
    }
  }
  return problems;
}

/** A 400 listing every problem; `message` and `field` are the first one's. */
export function invalidRequest(problems: FieldProblem[]): ApiError {
  const first = problems[0];
  if (!first) return new ApiError('invalid_request', 'invalid request');
  const message = first.path ? `${first.path}: ${first.message}` : first.message;
  const more =
    problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
  return new ApiError('invalid_request', `${message}${more}`, first.path || undefined, undefined, problems);
}

/**
 * Validates a request body, query or path parameter; every problem is listed in a 400 (`error.errors`),
 * the first also as `error.field`. `refine` may turn that error into a more specific one.
 */
export function parseInput<T>(
  schema: z.ZodType<T>,
  input: unknown,
  refine: (e: ApiError) => ApiError = (e) => e,
): T {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw refine(invalidRequest(fieldProblems(parsed.error)));
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

/**
 * The route's `If-Match` header as a revision (parseIfMatch): one decorator instead of a header parameter
 * and a parse call in every conditional route.
 */
const ifMatchHeader = createParamDecorator((_data: unknown, ctx: ExecutionContext): number | undefined =>
  parseIfMatch(ctx.switchToHttp().getRequest<IncomingMessage>().headers['if-match']),
);
export const IfMatch =
  (): ParameterDecorator =>
  (target, key, index): void => {
    ifMatchHeader()(target, key, index);
    // The same parameter, documented in the OpenAPI document as the route's optional If-Match header.
    const descriptor = key === undefined ? undefined : Object.getOwnPropertyDescriptor(target, key);
    if (key === undefined || !descriptor) return;
    ApiHeader({
      name: 'If-Match',
      required: false,
      description:
        'The revision the change is based on, as the ETag or `revision` gave it (e.g. "12"); a record that moved on answers 409',
      schema: { type: 'string', pattern: '^"?[0-9]{1,15}"?$|^\\*$' },
    })(target, key, descriptor);
  };
