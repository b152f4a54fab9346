import { optionalPath, url } from '../fields';
import { defineSection } from '../section';
import { defined } from '../util';

export interface RedisSettings {
  url: string;
  /** Read from password_file. Secret: never log it. */
  password?: string;
}

export const redisSection = defineSection({
  name: 'redis',
  summary: 'the Redis used for presence state and the user-status cache',
  fields: { url: url(['redis', 'rediss'], 'redis://127.0.0.1:6379'), password_file: optionalPath() },
  build: (v, at): RedisSettings =>
    defined({
      url: v.url,
      password: v.password_file === undefined ? undefined : at.readSecret('password_file', v.password_file),
    }),
});
