import { ApiBody, ApiQuery, ApiResponse } from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger';
import { z } from 'zod';

/** A zod schema as an OpenAPI 3.1 schema object (JSON Schema 2020-12), describing what a request may send. */
export function zodSchemaObject(schema: z.ZodType, io: 'input' | 'output' = 'input'): SchemaObject {
  // `input`: what the client sends (before defaults and transforms); refinements have no JSON Schema form.
  const json = z.toJSONSchema(schema, {
    io,
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

/**
 * Documents a route's query parameters with the zod object schema the route parses its query with: one
 * `ApiQuery` per property, with its JSON Schema, required when the schema requires it.
 */
export const ZodQuery =
  (schema: z.ZodObject): MethodDecorator =>
  (target, key, descriptor) => {
    const json = zodSchemaObject(schema) as {
      properties?: Record<string, SchemaObject>;
      required?: string[];
    };
    for (const [name, property] of Object.entries(json.properties ?? {})) {
      const { description, ...propertySchema } = property;
      ApiQuery({
        name,
        required: json.required?.includes(name) ?? false,
        schema: propertySchema,
        ...(description ? { description } : {}),
      })(target, key, descriptor);
    }
  };

/** Documents a route's success response with the zod schema of what it returns. */
export const ZodResponse = (schema: z.ZodType, status = 200, description = 'OK'): MethodDecorator =>
  ApiResponse({ status, description, schema: zodSchemaObject(schema, 'output') });

const Revision = z.object({
  revision: z.number().int().positive().describe('the KV revision; send it back in If-Match'),
});

/** A stored record as the API returns it (`View<T>`): the record's schema plus `revision`. */
export const viewSchema = <T extends z.ZodType>(record: T): z.ZodIntersection<T, typeof Revision> =>
  z.intersection(record, Revision);
