export { DRAIN_LIMIT_MS, Messaging, connectMessaging, natsMessagingOptions } from './messaging';
export type {
  CollectOptions,
  MessagingOptions,
  MessageContext,
  ResponderContext,
  Unsubscribe,
} from './messaging';
export { RequestError, RemoteError, ERROR_HEADER, ERROR_MESSAGE_HEADER } from './errors';
export type { RequestErrorKind } from './errors';
export { KvCache, openBucket, openKv, KV_BUCKET_OPTIONS } from './kv-cache';
export { publishBaseline, type BaselinePublisher } from './baseline-publisher';
