import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { AssertionSigner } from '@tapgate/assertions';
import { waitFor } from '@tapgate/testing';
import { TapgateClient } from './client';
import { AssertionError, AssertionVerifier } from './server';
import { ProtocolPeer } from './testing/peer';

describe('an NEA page logs in, its server verifies the assertion (nea-client/dist/server)', () => {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    format: 'pem',
    type: 'pkcs8',
  }) as string;
  const signer = new AssertionSigner({ signingKeys: [{ key }] });
  const jwks = createServer((_req, res) => res.end(JSON.stringify(signer.jwks())));
  after(() => new Promise<void>((resolve) => jwks.close(() => resolve())));

  it('the assertion from login() verifies once, and not after a one-byte change', async () => {
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
    const peer = await ProtocolPeer.start();
    const client = new TapgateClient({
      host: '127.0.0.1',
      port: peer.port,
      protocol: 'ws',
      terminal: 'LINE1-T04',
    });
    try {
      let connected = false;
      client.on('connected', () => (connected = true));
      client.connect();
      await waitFor(() => connected);
      const login = client.login({ audience: 'pomsnet' });
      const { conn, message } = await peer.next('login.request');
      const decision = {
        outcome: 'granted' as const,
        user: { sAMAccountName: 'alice', displayName: 'Alice Able' },
        status: 'active' as const,
        identifiedBy: 'proof' as const,
      };
      const signed = await signer.sign({
        aud: message.data.audience!,
        sub: 'alice',
        tapgate: {
          kind: 'login',
          terminalId: 'LINE1-T04',
          tapId: 't-1',
          status: 'active',
          displayName: 'Alice Able',
        },
      });
      conn.send(
        'login.result',
        { requestId: 'r-1', outcome: 'granted', decision, assertion: signed.jws },
        message.ref,
      );
      const result = await login;

      const verifier = new AssertionVerifier({ jwksUrl, audience: 'pomsnet', kind: 'login' });
      const i = result.assertion!.indexOf('.') + 10;
      const altered = `${result.assertion!.slice(0, i)}${result.assertion![i] === 'x' ? 'y' : 'x'}${result.assertion!.slice(i + 1)}`;
      await assert.rejects(
        verifier.verify(altered),
        (e: unknown) => e instanceof AssertionError && e.reason === 'bad_signature',
      );
      const claims = await verifier.verify(result.assertion!);
      assert.equal(claims.sub, 'alice');
      assert.equal(claims.tapgate.terminalId, 'LINE1-T04');
      await assert.rejects(
        verifier.verify(result.assertion!),
        (e: unknown) => e instanceof AssertionError && e.reason === 'replayed',
      );
      assert.deepEqual(peer.violations, []);
    } finally {
      client.close();
      await peer.stop();
    }
  });
});
