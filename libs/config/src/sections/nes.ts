import { optionalPath, optionalText, optionalUrl, text } from '../fields';
import { defineSection } from '../section';
import { defined } from '../util';

export interface NesSettings {
  neaName: string;
  nesUrl?: string;
  directoryServiceId?: string;
  credentialsLocation?: string;
}

export const nesSection = defineSection({
  name: 'nes',
  summary: "the enterprise-server keys of Nymi's [nes] section",
  fields: {
    nea_name: text({ default: 'tapgate' }),
    nes_url: optionalUrl(['http', 'https']),
    directory_service_id: optionalText(),
    credentials_location: optionalPath(),
  },
  build: (v): NesSettings =>
    defined({
      neaName: v.nea_name,
      nesUrl: v.nes_url,
      directoryServiceId: v.directory_service_id,
      credentialsLocation: v.credentials_location,
    }),
});
