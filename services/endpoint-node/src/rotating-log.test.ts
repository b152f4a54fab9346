import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RotatingLogFile } from './rotating-log';

describe('RotatingLogFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-rotating-log-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('rotates by size and keeps the newest files', () => {
    const file = join(dir, 'logs', 'endpoint.log');
    const log = new RotatingLogFile(file, 100, 2);
    for (let i = 0; i < 10; i++) log.write(`line ${i} ${'x'.repeat(30)}\n`); // 39 bytes: two per file
    log.close();
    assert.deepEqual(readdirSync(join(dir, 'logs')).sort(), [
      'endpoint.log',
      'endpoint.log.1',
      'endpoint.log.2',
    ]);
    for (const f of readdirSync(join(dir, 'logs'))) assert.ok(statSync(join(dir, 'logs', f)).size <= 100);
    assert.match(readFileSync(file, 'utf8'), /^line 8 .*\nline 9 /);
    assert.match(readFileSync(`${file}.1`, 'utf8'), /^line 6 /);
    assert.match(readFileSync(`${file}.2`, 'utf8'), /^line 4 /);
  });

  it('appends to an existing file and counts its size', () => {
    const file = join(dir, 'again.log');
    const first = new RotatingLogFile(file, 50, 1);
    first.write('a'.repeat(40) + '\n');
    first.close();
    const log = new RotatingLogFile(file, 50, 1);
    log.write('b'.repeat(20) + '\n');
    log.close();
    assert.equal(readFileSync(`${file}.1`, 'utf8'), 'a'.repeat(40) + '\n');
    assert.equal(readFileSync(file, 'utf8'), 'b'.repeat(20) + '\n');
  });

  it('writes a line longer than the limit instead of losing it', () => {
    const file = join(dir, 'long.log');
    const log = new RotatingLogFile(file, 10, 1);
    log.write('y'.repeat(25));
    log.close();
    assert.equal(readFileSync(file, 'utf8'), 'y'.repeat(25));
  });
});
