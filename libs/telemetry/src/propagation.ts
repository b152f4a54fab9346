import {
  context,
  propagation,
  type Context,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';

/** The minimal header carrier NATS (and HTTP) headers satisfy. */
export interface HeaderCarrier {
  get(key: string): string | undefined | null;
  set(key: string, value: string): void;
}

const setter: TextMapSetter<HeaderCarrier> = { set: (c, k, v) => c.set(k, v) };
const getter: TextMapGetter<HeaderCarrier> = {
  get: (c, k) => c.get(k) ?? undefined,
  keys: () => ['traceparent', 'tracestate', 'baggage'],
};

/** Writes the active trace context (W3C traceparent) into outgoing message headers. */
export function injectTraceContext(carrier: HeaderCarrier, ctx: Context = context.active()): void {
  propagation.inject(ctx, carrier, setter);
}

/** Reads the trace context of an incoming message; handlers run inside it so one tap is one trace. */
export function extractTraceContext(carrier: HeaderCarrier | undefined): Context {
  return carrier ? propagation.extract(context.active(), carrier, getter) : context.active();
}
