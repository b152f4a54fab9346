import type { ClientMessage, ClientMessageType } from '@tapgate/contracts';
import type { Connection, ServerFrame } from './connection';

/** A validated, permitted client message of one type. */
export type MessageOf<T extends ClientMessageType> = Extract<ClientMessage, { type: T }>;

/** What a handler gives back: a frame to send on the socket, or nothing (it answers later, or never). */
export type HandlerReply = ServerFrame | undefined | Promise<ServerFrame | undefined>;

/**
 * One handler per client message type of contracts' ClientMessageSchemas: a type added there does not
 * compile until the gateway handles it. The adapter looks a message's handler up here.
 */
export type MessageHandlers = {
  readonly [T in ClientMessageType]: (conn: Connection, msg: MessageOf<T>) => HandlerReply;
};

/** What the adapter needs of a gateway: its handlers and its disconnect hook. */
export interface MessageGateway {
  readonly handlers: MessageHandlers;
  handleDisconnect(conn: Connection): void;
}
