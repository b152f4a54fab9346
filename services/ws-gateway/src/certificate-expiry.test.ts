import { startTelemetry } from '@tapgate/telemetry';
import { makeTestPki, waitFor, type TestPki } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { GatewayTestStack } from './testing/stack';

startTelemetry({ serviceName: 'ws-gateway-test' });

describe('certificate expiry metric (the chart’s TapgateCertificateExpiry alert reads it)', () => {
  let stack: GatewayTestStack;
  let pki: TestPki;
  before(async () => {
    [stack, pki] = await Promise.all([GatewayTestStack.start(), makeTestPki()]);
  });
  after(async () => {
    await stack.stop();
    pki.dispose();
  });

  it('exports the notAfter of each wss listener’s certificate, and nothing for plain ws', async () => {
    const tls = (prefix: 'AGENT' | 'WEBAPI') => ({
      [`TAPGATE_${prefix}_PROTOCOL`]: 'wss',
      [`TAPGATE_${prefix}_CACERTFILE`]: pki.ca.certFile,
      [`TAPGATE_${prefix}_CERTFILE`]: pki.server.certFile,
      [`TAPGATE_${prefix}_KEYFILE`]: pki.server.keyFile,
    });
    // wss on the standard interface only: webapi stays plain ws and has no certificate to report.
    const gw = await stack.gateway(tls('AGENT'));
    await waitFor(async () => (await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`)).ok);
    const metrics = await (await fetch(`http://127.0.0.1:${gw.ports.http}/metrics`)).text();
    const notAfter = Date.parse(new X509Certificate(pki.server.cert).validTo) / 1000;
    assert.ok(notAfter > Date.now() / 1000);
    const lines = metrics.split('\n').filter((l) => l.startsWith('tapgate_tls_certificate_expiry'));
    assert.deepEqual(lines, [`tapgate_tls_certificate_expiry{listener="agent"} ${notAfter}`]);
  });
});
