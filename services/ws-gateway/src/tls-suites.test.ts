import { TLS12_SUITES, TLS13_SUITES } from '@tapgate/config';
import { makeTestPki, waitFor, type TestPki } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { RunningGateway } from './bootstrap';
import { GatewayTestStack } from './testing/stack';

const run = promisify(execFile);

interface Handshake {
  ok: boolean;
  protocol?: string;
  suite?: string;
  output: string;
}

/**
 * One `openssl s_client` handshake, as an operator would check a server. `@SECLEVEL=0` lets the client
 * offer what OpenSSL would otherwise refuse to send (TLS 1.0, SHA-1 suites), so a refusal is the server's.
 */
async function sClient(port: number, ca: string, args: string[]): Promise<Handshake> {
  const argv = [
    's_client',
    '-connect',
    `127.0.0.1:${port}`,
    '-servername',
    'localhost',
    '-CAfile',
    ca,
    '-brief',
    ...args,
  ];
  // stdin is closed at once: s_client then ends right after the handshake instead of waiting for input.
  const output = await new Promise<string>((resolve) => {
    const child = execFile('openssl', argv, { timeout: 10_000 }, (_err, stdout, stderr) =>
      resolve(`${stdout}${stderr}`),
    );
    child.stdin?.end();
  });
  const protocol = /Protocol version: (\S+)/.exec(output)?.[1];
  const suite = /Ciphersuite: (\S+)/.exec(output)?.[1];
  return { ok: protocol !== undefined && suite !== undefined, protocol, suite, output };
}

async function openssl(args: string[]): Promise<string> {
  return (await run('openssl', args)).stdout.trim();
}

describe('TLS as openssl s_client sees it: modern suites only, TLS 1.3 by default', () => {
  let stack: GatewayTestStack;
  let pki: TestPki;
  let ec: RunningGateway;
  let rsa: RunningGateway;
  let tls12: string[];
  const tls13 = [
    'TLS_AES_128_GCM_SHA256',
    'TLS_AES_256_GCM_SHA384',
    'TLS_CHACHA20_POLY1305_SHA256',
    'TLS_AES_128_CCM_SHA256',
    'TLS_AES_128_CCM_8_SHA256',
  ];

  before(async () => {
    [stack, pki] = await Promise.all([GatewayTestStack.start(), makeTestPki()]);
    const rsaCert = await pki.issueRsaServer();
    const wss = (cert: { certFile: string; keyFile: string }) => ({
      TAPGATE_AGENT_PROTOCOL: 'wss',
      TAPGATE_AGENT_CACERTFILE: pki.ca.certFile,
      TAPGATE_AGENT_CERTFILE: cert.certFile,
      TAPGATE_AGENT_KEYFILE: cert.keyFile,
      TAPGATE_WEBAPI_ENABLED: 'false',
    });
    [ec, rsa] = await Promise.all([stack.gateway(wss(pki.server)), stack.gateway(wss(rsaCert))]);
    for (const gw of [ec, rsa]) {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`)).ok);
    }
    // Every TLS 1.2 suite this OpenSSL can offer, weak ones included.
    tls12 = (await openssl(['ciphers', '-s', '-tls1_2', 'ALL:COMPLEMENTOFALL:@SECLEVEL=0']))
      .split(':')
      .filter((s) => !s.startsWith('TLS_'));
  });
  after(async () => {
    await stack.stop();
    pki.dispose();
  });

  for (const key of ['ec', 'rsa'] as const) {
    it(`accepts exactly the configured suites with an ${key.toUpperCase()} certificate`, async () => {
      const gw = key === 'ec' ? ec : rsa;
      const accepted12: string[] = [];
      for (const suite of tls12) {
        const h = await sClient(gw.ports.agent!, pki.ca.certFile, [
          '-tls1_2',
          '-cipher',
          `${suite}:@SECLEVEL=0`,
        ]);
        if (h.ok) accepted12.push(h.suite!);
      }
      const accepted13: string[] = [];
      for (const suite of tls13) {
        const h = await sClient(gw.ports.agent!, pki.ca.certFile, ['-tls1_3', '-ciphersuites', suite]);
        if (h.ok) accepted13.push(h.suite!);
      }
      console.log(`${key.toUpperCase()} key: TLS 1.3 accepted: ${accepted13.join(' ')}`);
      console.log(
        `${key.toUpperCase()} key: TLS 1.2 accepted (of ${tls12.length} offered one by one): ${accepted12.join(' ')}`,
      );
      assert.deepEqual(accepted13.sort(), [...TLS13_SUITES].sort());
      const auth = key === 'ec' ? 'ECDSA' : 'RSA';
      const expected12 = TLS12_SUITES.filter((s) => s.startsWith(`ECDHE-${auth}-`));
      assert.deepEqual(accepted12.sort(), [...expected12].sort());
      for (const s of accepted12) {
        assert.match(s, /^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
      }
    });
  }

  it('refuses CBC-SHA1 suites, static-RSA key exchange and TLS 1.0/1.1; negotiates TLS 1.3 by default', async () => {
    const refusals: Array<[string, RunningGateway, string[]]> = [
      [
        'CBC-SHA1 with ECDHE (EC key)',
        ec,
        ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:@SECLEVEL=0'],
      ],
      [
        'CBC-SHA1 with ECDHE (RSA key)',
        rsa,
        ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:@SECLEVEL=0'],
      ],
      ['CBC-SHA256 (RSA key)', rsa, ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-SHA256:@SECLEVEL=0']],
      [
        'static RSA key exchange (RSA key)',
        rsa,
        ['-tls1_2', '-cipher', 'AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA:@SECLEVEL=0'],
      ],
      ['TLS 1.0', ec, ['-tls1', '-cipher', 'ALL:@SECLEVEL=0']],
      ['TLS 1.1', rsa, ['-tls1_1', '-cipher', 'ALL:@SECLEVEL=0']],
    ];
    for (const [what, gw, args] of refusals) {
      const h = await sClient(gw.ports.agent!, pki.ca.certFile, args);
      console.log(`${what}: ${h.ok ? `ACCEPTED ${h.protocol} ${h.suite}` : 'refused'}`);
      assert.equal(h.ok, false, `${what}: ${h.output}`);
      // The server answered with an alert: the client did send its hello (not a local OpenSSL refusal).
      assert.match(
        h.output,
        /alert|no shared cipher|handshake failure|wrong version|unsupported protocol/i,
        h.output,
      );
    }
    for (const gw of [ec, rsa]) {
      const h = await sClient(gw.ports.agent!, pki.ca.certFile, []);
      console.log(`default handshake: ${h.protocol} ${h.suite}`);
      assert.equal(h.protocol, 'TLSv1.3');
      assert.match(h.output, /Verification: OK/);
    }
  });
});
