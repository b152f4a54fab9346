import { z } from 'zod';

/**
 * The schema a receiver of a NATS message, a KV record or a stream record parses with.
 *
 * Schemas here are strict, so that what a service writes is exactly what the contract says. A reader,
 * though, may run next to a newer writer (a rolling upgrade, docs/protocol.md §11), which may add
 * optional fields; a strict reader would refuse the whole message and, failing closed, refuse the tap.
 * So readers parse with this copy of the schema: every object in it, however deeply nested, drops
 * fields it does not know instead of refusing them, and validates the fields it knows exactly as the
 * writer's schema does (types, refinements, required fields). The parsed value has only known fields.
 *
 * Never use it for input from outside (socket frames from clients, the REST API): those stay strict.
 */
export function receiving<S extends z.ZodType>(schema: S): S {
  return tolerant(schema) as S;
}

const copies = new WeakMap<z.ZodType, z.ZodType>();

function tolerant(schema: z.ZodType): z.ZodType {
  const known = copies.get(schema);
  if (known !== undefined) return known;
  const copy = rebuild(schema);
  copies.set(schema, copy);
  return copy;
}

/** The schema with its children made tolerant and, for an object, unknown keys stripped. */
function rebuild(schema: z.ZodType): z.ZodType {
  // The classic API has no public walker; zod 4's definitions are plain data, so each kind that holds
  // other schemas is cloned with tolerant children. Checks (refine, superRefine) live in the definition
  // and come along. Kinds without children are returned as they are.
  const def = schema._zod.def as unknown as Record<string, unknown> & { type: string };
  const child = (key: string) => tolerant(def[key] as z.ZodType);
  const clone = (changes: Record<string, unknown>) =>
    schema.clone({ ...def, ...changes } as unknown as typeof schema._zod.def);
  switch (def.type) {
    case 'object': {
      const shape = Object.fromEntries(
        Object.entries(def.shape as Record<string, z.ZodType>).map(([k, s]) => [k, tolerant(s)]),
      );
      // A strict object's catchall is `never`; other catchalls (a loose object's `unknown`) stay.
      const catchall = def.catchall as z.ZodType | undefined;
      return clone({
        shape,
        catchall:
          catchall === undefined || catchall._zod.def.type === 'never' ? undefined : tolerant(catchall),
      });
    }
    case 'array':
      return clone({ element: child('element') });
    case 'union':
      return clone({ options: (def.options as z.ZodType[]).map(tolerant) });
    case 'intersection':
      return clone({ left: child('left'), right: child('right') });
    case 'record':
      return clone({ keyType: child('keyType'), valueType: child('valueType') });
    case 'pipe':
      return clone({ in: child('in'), out: child('out') });
    case 'lazy': {
      const getter = def.getter as () => z.ZodType;
      return clone({ getter: () => tolerant(getter()) });
    }
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'catch':
    case 'readonly':
    case 'nonoptional':
      return clone({ innerType: child('innerType') });
    default:
      return schema;
  }
}
