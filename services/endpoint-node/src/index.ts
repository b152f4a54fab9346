// The endpoint node as a library: the gateway's tests and the benchmark drive real endpoint clients.
export {
  AgentClient,
  ENDPOINT_SOFTWARE,
  TapError,
  type AgentClientOptions,
  type TapRequest,
} from './agent-client';
export { Backoff, type AttemptFailure, type BackoffOptions } from './backoff';
export { EndpointNode, LEGACY_PROTOCOL_REFUSED, LocalRefusal, type TapRecord } from './endpoint-node';
export { PcscDriver, loadPcscBinding, pcscdSocketPath, type PcscDriverOptions } from './drivers/pcsc';
export { SimulatedDriver } from './drivers/simulated';
export type { ReaderDriver, DriverSink, NfcRead, BleSample, BandSigner } from './drivers/driver';
export { startControlServer } from './control-server';
