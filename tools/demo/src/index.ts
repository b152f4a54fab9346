export { NEW_BAND_LABEL, startDemo, type DemoBand, type DemoOptions, type RunningDemo } from './demo';
export {
  startPageServer,
  type PageConfig,
  type PageServerOptions,
  type RunningPageServer,
} from './page-server';
export { PomsnetServer, type EsignAnswer, type PomsnetAnswer } from './pomsnet-server';
