export * from './ids';
export * from './socket/codes';
export * from './socket/messages';
export * from './socket/codec';
export * from './nats/subjects';
export * from './nats/records';
export * from './nats/audit';
export * from './nats/policies';
