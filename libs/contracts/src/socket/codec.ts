import type { z } from 'zod';
import { ErrorCode } from './codes';
import {
  ClientMessageSchemas,
  ServerMessageSchemas,
  SOCKET_PROTOCOL_VERSION,
  type ClientMessageData,
  type ClientMessageType,
  type ErrorBody,
  type ServerMessageData,
  type ServerMessageType,
} from './messages';

/** A validated client frame. `data` is typed by `type`. */
export type ClientMessage = {
  [T in ClientMessageType]: { type: T; ref?: string; data: ClientMessageData<T> };
}[ClientMessageType];

export type DecodeResult =
  { ok: true; message: ClientMessage } | { ok: false; ref?: string; error: ErrorBody };

function fail(
  code: ErrorBody['code'],
  message: string,
  ref?: string,
  issues?: ErrorBody['issues'],
): DecodeResult {
  return { ok: false, ref, error: issues ? { code, message, issues } : { code, message } };
}

function hasOwn<T extends object>(o: T, k: PropertyKey): k is keyof T {
  return Object.prototype.hasOwnProperty.call(o, k);
}

/**
 * The deepest JSON a client frame may nest. Valid frames nest at most 4 levels (envelope, data, the
 * adverts array, an advert); JSON.parse of a 64 KB frame of 30,000 nested arrays allocates megabytes, so
 * deeper frames are refused before they are parsed.
 */
export const MAX_CLIENT_FRAME_DEPTH = 16;

/** True when `text` opens more than `limit` arrays or objects at once (brackets in strings do not count). */
function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      // A backslash skips the escaped character; a quote ends the string.
      if (c === 0x5c) {
        i++;
      } else if (c === 0x22) {
        inString = false;
      }
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/**
 * Parses and validates one text frame from a client. Never throws: every failure becomes an
 * error body with a documented code, and the ref is echoed when it could be read.
 */
export function decodeClientFrame(text: string): DecodeResult {
  if (nestsDeeperThan(text, MAX_CLIENT_FRAME_DEPTH)) {
    return fail(ErrorCode.MalformedJson, `frame nests deeper than ${MAX_CLIENT_FRAME_DEPTH} levels`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return fail(ErrorCode.MalformedJson, 'frame is not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return fail(ErrorCode.InvalidEnvelope, 'frame must be a JSON object with v, type and optional ref, data');
  }
  const env = raw as Record<string, unknown>;
  const ref = typeof env.ref === 'string' && env.ref.length > 0 && env.ref.length <= 64 ? env.ref : undefined;
  if (env.ref !== undefined && ref === undefined) {
    return fail(ErrorCode.InvalidEnvelope, 'ref must be a string of 1-64 characters');
  }
  for (const key of Object.keys(env)) {
    if (key !== 'v' && key !== 'type' && key !== 'ref' && key !== 'data') {
      return fail(ErrorCode.InvalidEnvelope, `unknown envelope field "${key}"`, ref);
    }
  }
  if (env.v !== SOCKET_PROTOCOL_VERSION) {
    return fail(ErrorCode.UnsupportedVersion, `v must be ${SOCKET_PROTOCOL_VERSION}`, ref);
  }
  if (typeof env.type !== 'string') {
    return fail(ErrorCode.InvalidEnvelope, 'type must be a string', ref);
  }
  const type = env.type;
  if (!hasOwn(ClientMessageSchemas, type)) {
    return fail(ErrorCode.UnknownType, `unknown message type "${type.slice(0, 64)}"`, ref);
  }
  const schema: z.ZodType = ClientMessageSchemas[type];
  const parsed = schema.safeParse(env.data);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 10).map((i) => ({
      path: ['data', ...i.path.map(String)].join('.'),
      message: i.message,
    }));
    return fail(ErrorCode.SchemaViolation, `invalid "${type}" message`, ref, issues);
  }
  return { ok: true, message: { type, ref, data: parsed.data } as ClientMessage };
}

/** Serialises a server frame. Server frames are built from typed data, so they are not re-validated. */
export function encodeServerFrame<T extends ServerMessageType>(
  type: T,
  data: ServerMessageData<T>,
  ref?: string,
): string {
  return JSON.stringify(
    ref === undefined
      ? { v: SOCKET_PROTOCOL_VERSION, type, data }
      : { v: SOCKET_PROTOCOL_VERSION, type, ref, data },
  );
}

/** Serialises a client frame (used by the endpoint node, the SDK and the tests). */
export function encodeClientFrame<T extends ClientMessageType>(
  type: T,
  data: ClientMessageData<T>,
  ref?: string,
): string {
  return JSON.stringify(
    ref === undefined
      ? { v: SOCKET_PROTOCOL_VERSION, type, data }
      : { v: SOCKET_PROTOCOL_VERSION, type, ref, data },
  );
}

/** A validated server frame, as a client sees it. */
export type ServerMessage = {
  [T in ServerMessageType]: { type: T; ref?: string; data: ServerMessageData<T> };
}[ServerMessageType];

/** Parses and validates a server frame on the client side; returns an Error instead of throwing. */
export function decodeServerFrame(text: string): ServerMessage | Error {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return new Error('server frame is not JSON');
  }
  if (typeof raw !== 'object' || raw === null) return new Error('server frame is not an object');
  const env = raw as Record<string, unknown>;
  if (env.v !== SOCKET_PROTOCOL_VERSION || typeof env.type !== 'string') {
    return new Error('server frame has a bad envelope');
  }
  if (!hasOwn(ServerMessageSchemas, env.type)) return new Error(`unknown server message type ${env.type}`);
  const schema: z.ZodType = ServerMessageSchemas[env.type];
  const parsed = schema.safeParse(env.data);
  const ref = typeof env.ref === 'string' ? env.ref : undefined;
  if (!parsed.success) {
    // Forward compatibility: a newer server may add optional fields within version 1. Frames whose
    // only problem is unknown keys are accepted as sent; anything else is invalid.
    if (parsed.error.issues.every((i) => i.code === 'unrecognized_keys')) {
      return { type: env.type, ref, data: env.data } as ServerMessage;
    }
    return new Error(`invalid ${env.type}: ${parsed.error.message}`);
  }
  return { type: env.type, ref, data: parsed.data } as ServerMessage;
}
