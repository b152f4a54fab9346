// Nest injection tokens of the gateway.
export const GATEWAY_SETTINGS = Symbol('GATEWAY_SETTINGS');
export const MESSAGING = Symbol('MESSAGING');
