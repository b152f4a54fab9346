// Node stand-in for k6 v0.50's k6/experimental/websockets: the browser-style API of Node's WebSocket, with
// readyState as k6 v0.50 exposes it, an object (typeof "object") only loosely equal to the state number,
// so `ws.readyState === 1` is never true while `Number(ws.readyState) === 1` is when open.
export class WebSocket extends globalThis.WebSocket {
  get readyState() {
    // eslint-disable-next-line no-new-wrappers -- the point: a boxed number, as k6 v0.50 hands out
    return new Number(super.readyState);
  }
}
