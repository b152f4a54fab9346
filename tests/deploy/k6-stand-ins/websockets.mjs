// Node stand-in for k6/experimental/websockets: Node's global WebSocket has the same browser-style API
// (onopen, onmessage with event.data, send, close, readyState).
export const WebSocket = globalThis.WebSocket;
