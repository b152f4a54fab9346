import { port, text } from '../fields';
import { defineSection } from '../section';

export interface HttpSettings {
  host: string;
  port: number;
}

export const httpSection = defineSection({
  name: 'http',
  summary: 'the health, readiness and metrics HTTP listener of every service',
  fields: {
    host: text({ default: '0.0.0.0', expects: 'a host name or IP address to listen on' }),
    port: port(8080),
  },
  build: (v): HttpSettings => ({ host: v.host, port: v.port }),
});
