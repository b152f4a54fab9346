// @tapgate/nea-client: the browser SDK for Nymi-enabled applications (POMSnet and any web NEA).
// This file is the ES module entry (dist/esm/nea-client.js); it must not import Node modules or other
// workspace packages, so that browsers load it as it is.
export {
  TapgateClient,
  CONNECTED_MESSAGE,
  DISCONNECTED_MESSAGE,
  type TapgateClientOptions,
  type ClientEvents,
  type ConnectionState,
  type SocketLike,
  type SocketConstructor,
} from './client.js';
export type { Ceremony } from './ceremony.js';
export { TapgateError } from './errors.js';
export { parseServerFrame, encodeFrame, PROTOCOL_VERSION } from './frames.js';
export type * from './frames.js';
