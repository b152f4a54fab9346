import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lockDifferences } from './previous-release';

const lock = (packages: Record<string, object>) => JSON.stringify({ lockfileVersion: 3, packages });

describe('previous release: runtime packages it would borrow from this tree', () => {
  it('names runtime packages locked at another version or missing here; links and dev tools do not count', () => {
    const old = lock({
      '': { name: 'tapgate' },
      'node_modules/zod': { version: '4.6.7' },
      'node_modules/nats': { version: '2.29.3' },
      'node_modules/ws': { version: '8.23.0' },
      'node_modules/a/node_modules/b': { version: '1.0.0' },
      'node_modules/@tapgate/contracts': { resolved: 'libs/contracts', link: true },
      'node_modules/typescript': { version: '5.8.0', dev: true },
      'libs/contracts': { name: '@tapgate/contracts' },
    });
    const current = lock({
      'node_modules/zod': { version: '4.6.7' },
      'node_modules/nats': { version: '2.30.0' },
      'node_modules/a/node_modules/b': { version: '1.0.0' },
      'node_modules/typescript': { version: '5.9.3', dev: true },
    });
    assert.deepEqual(lockDifferences(old, current), [
      'node_modules/nats: 2.29.3 there, 2.30.0 here',
      'node_modules/ws: 8.23.0 there, absent here',
    ]);
    assert.deepEqual(lockDifferences(current, current), []);
  });
});
