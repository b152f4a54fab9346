// The endpoint node as a library: the gateway's tests and the benchmark drive real endpoint clients.
export {
  AgentClient,
  ENDPOINT_SOFTWARE,
  TapError,
  type AgentClientOptions,
  type TapRequest,
} from './agent-client';
export { Backoff } from './backoff';
export { EndpointNode } from './endpoint-node';
export { SimulatedDriver } from './drivers/simulated';
export type { ReaderDriver, DriverSink, NfcRead, BleSample } from './drivers/driver';
export { startControlServer } from './control-server';
