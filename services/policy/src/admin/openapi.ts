import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject, type SchemaObject } from '@nestjs/swagger';
import type { Messaging } from '@tapgate/messaging';
import { API_CONTROLLERS } from '../api-controllers';
import { PolicyApiModule } from '../api.module';
import { routeRole } from '../auth/admin.guard';
import type { PolicySettings } from '../policy-settings';
import type { Buckets } from '../store/buckets';

/** The error body every failure has (docs/api.md, "Errors"); ApiError.toBody() writes it. */
const ERROR_SCHEMA: Record<string, unknown> = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        field: { type: 'string' },
        errors: {
          type: 'array',
          description: 'every problem of an invalid request (400 invalid_request)',
          items: {
            type: 'object',
            required: ['path', 'message'],
            properties: { path: { type: 'string' }, message: { type: 'string' } },
          },
        },
      },
    },
  },
};

/**
 * The API module with inert dependencies: in preview mode Nest builds the graph without creating any
 * provider or controller, so these are never used; the document is read from the decorators.
 */
const OPENAPI_MODULE = PolicyApiModule.forRoot({
  settings: {} as PolicySettings,
  messaging: {} as Messaging,
  buckets: {} as Buckets,
});

/**
 * Each operation's role from the guard's own metadata (operationId is `<Controller>_<method>`): public
 * routes get `security: []`, the others "Role: viewer|admin." as their description.
 */
function describeRoles(doc: OpenAPIObject): void {
  const controllers = new Map(API_CONTROLLERS.map((c) => [c.name, c]));
  for (const item of Object.values(doc.paths)) {
    for (const op of [item.get, item.put, item.post, item.delete, item.patch]) {
      if (!op?.operationId) continue;
      const [name = '', method = ''] = op.operationId.split('_');
      const controller = controllers.get(name);
      const handler = (controller?.prototype as Record<string, unknown> | undefined)?.[method];
      if (!controller || typeof handler !== 'function') continue;
      const role = routeRole(controller, handler);
      if (role === 'none') {
        op.security = [];
        op.description = 'No authentication.';
      } else {
        op.description = `Role: ${role}.`;
      }
    }
  }
}

let cached: Promise<OpenAPIObject> | undefined;

async function generate(): Promise<OpenAPIObject> {
  // `preview`: Nest builds the module graph without creating providers or controllers, so no NATS, no
  // config and no port are needed; @nestjs/swagger reads routes, parameters and @ZodBody schemas from it.
  const app = await NestFactory.create(OPENAPI_MODULE, { preview: true, logger: false, abortOnError: false });
  try {
    const config = new DocumentBuilder()
      .setOpenAPIVersion('3.1.0')
      .setTitle('Tapgate policy service')
      .setVersion('1')
      .setDescription('See docs/api.md.')
      .addBearerAuth(
        { type: 'http', scheme: 'bearer', description: 'A session token, or the break-glass token' },
        'bearer',
      )
      .addCookieAuth(
        'tapgate_session',
        { type: 'apiKey', in: 'cookie', description: 'Plus X-CSRF-Token on changes' },
        'session',
      )
      .addSecurityRequirements('bearer')
      .addSecurityRequirements('session')
      .build();
    const doc = SwaggerModule.createDocument(app, config);
    describeRoles(doc);
    doc.components ??= {};
    doc.components.schemas = { ...doc.components.schemas, Error: ERROR_SCHEMA as SchemaObject };
    return doc;
  } finally {
    await app.close();
  }
}

/**
 * The policy service's OpenAPI document, generated from the Nest controllers (routes, path parameters)
 * and the zod schemas their bodies are parsed with (@ZodBody): what `/v1/openapi.json` serves and what the
 * console's typed API client is generated from (`node services/policy/dist/openapi-dump.js`).
 */
export function openApiDocument(): Promise<OpenAPIObject> {
  cached ??= generate().catch((e: unknown) => {
    cached = undefined;
    throw e;
  });
  return cached;
}
