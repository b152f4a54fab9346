import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { waitFor } from '@tapgate/testing';
import type * as Sdk from './nea-client';
import { ProtocolPeer } from './testing/peer';

const ESM = join(__dirname, 'esm');

describe('the browser build (dist/esm)', () => {
  it('exists, and imports nothing but its own modules', () => {
    assert.ok(
      existsSync(join(ESM, 'nea-client.js')),
      'build it with tsc -b libs/nea-client/tsconfig.esm.json',
    );
    for (const file of readdirSync(ESM).filter((f) => f.endsWith('.js'))) {
      const code = readFileSync(join(ESM, file), 'utf8');
      const specifiers = [...code.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
      for (const s of specifiers) assert.match(s, /^\.\/[a-z-]+\.js$/, `${file} imports ${s}`);
      assert.doesNotMatch(code, /\brequire\(|\bprocess\.|\bBuffer\b/, `${file} uses a Node API`);
    }
  });

  it('runs as an ES module: connects and shows the connected text', async () => {
    const sdk = (await import(pathToFileURL(join(ESM, 'nea-client.js')).href)) as typeof Sdk;
    const peer = await ProtocolPeer.start();
    const client = new sdk.TapgateClient({ host: '127.0.0.1', port: peer.port, protocol: 'ws' });
    try {
      const messages: string[] = [];
      client.on('connected', (e) => messages.push(e.message));
      client.connect();
      await waitFor(() => messages.length === 1);
      assert.equal(messages[0], sdk.CONNECTED_MESSAGE);
    } finally {
      client.close();
      await peer.stop();
    }
  });
});
