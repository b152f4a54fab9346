import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactConfig } from './index';

describe('redactConfig', () => {
  it('hides secrets at any depth and shortens PEM text, leaving the input untouched', () => {
    const config = {
      nats: { servers: ['nats://a:4222'], token: 'nats-token' },
      ldap: { bind: { dn: 'CN=svc', password: 'pw' } },
      policy: { adminToken: 'admin-token', adminTokenFile: '/run/token' },
      agent: { tls: { ca: '-----BEGIN CERTIFICATE-----\nx', key: 'k', files: { keyfile: '/k.pem' } } },
      endpoint: { credential: 'c' },
    };
    const copy = JSON.parse(JSON.stringify(config)) as typeof config;
    assert.deepEqual(redactConfig(config), {
      nats: { servers: ['nats://a:4222'], token: '[redacted]' },
      ldap: { bind: { dn: 'CN=svc', password: '[redacted]' } },
      policy: { adminToken: '[redacted]', adminTokenFile: '/run/token' },
      agent: { tls: { ca: '[pem]', key: '[redacted]', files: { keyfile: '/k.pem' } } },
      endpoint: { credential: '[redacted]' },
    });
    assert.deepEqual(config, copy);
  });
});
