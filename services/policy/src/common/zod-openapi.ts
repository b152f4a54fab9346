import { ApiBody } from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger';
import { z } from 'zod';

/** A zod schema as an OpenAPI 3.1 schema object (JSON Schema 2020-12), describing what a request may send. */
export function zodSchemaObject(schema: z.ZodType): SchemaObject {
  // `input`: what the client sends (before defaults and transforms); refinements have no JSON Schema form.
  const json = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
    target: 'draft-2020-12',
  }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

/**
 * Documents a route's JSON body with the zod schema the route parses it with, so the OpenAPI document
 * and the validation are one source.
 */
export const ZodBody = (schema: z.ZodType, description?: string): MethodDecorator =>
  ApiBody({ schema: zodSchemaObject(schema), required: true, ...(description ? { description } : {}) });
