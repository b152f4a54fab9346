import { boolean } from '../fields';
import { defineSection } from '../section';
import { buildListener, listenerFields, type ListenerSettings } from './listener';

export interface WebApiSettings extends ListenerSettings {
  enabled: boolean;
}

export const webapiSection = defineSection({
  name: 'webapi',
  summary: 'the WebAPI interface for NEA clients (ws-gateway)',
  fields: { enabled: boolean(true), ...listenerFields(4443) },
  // A disabled interface opens no port, so its TLS files are not required to exist.
  build: (v, at): WebApiSettings =>
    v.enabled
      ? { enabled: true, ...buildListener(v, at) }
      : { enabled: false, protocol: v.protocol, port: v.port },
});
