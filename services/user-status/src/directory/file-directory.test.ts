import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { statusFromAttributes } from '../status/rules';
import { FileDirectory, FileUserState, fileGuid } from './file-directory';

const dir = mkdtempSync(join(tmpdir(), 'file-directory-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const YAML = `
users:
${FileUserState.options.map((s, i) => `  - { sAMAccountName: u${i}, userPrincipalName: ${s}@demo.test, state: ${s} }`).join('\n')}
  - sAMAccountName: plain
  - sAMAccountName: custom
    attributes: { userAccountControl: "514" }
`;

describe('FileDirectory', () => {
  it('reads YAML users whose states go through the same rules as AD attributes', async () => {
    const d = new FileDirectory(write('users.yaml', YAML));
    const now = new Date();
    for (const [i, state] of FileUserState.options.entries()) {
      const entry = await d.lookup({ sAMAccountName: `u${i}` });
      assert.ok(entry, state);
      assert.equal(statusFromAttributes(entry.attributes, now).status, state);
      assert.equal(entry.attributes.file, 'users.yaml');
      const byUpn = await d.lookup({ userPrincipalName: `${state.toUpperCase()}@DEMO.TEST` });
      assert.equal(byUpn?.user.sAMAccountName, `u${i}`);
    }
    const plain = await d.lookup({ sAMAccountName: 'PLAIN' });
    assert.equal(statusFromAttributes(plain!.attributes, now).status, 'active');
    const custom = await d.lookup({ sAMAccountName: 'custom' });
    assert.equal(statusFromAttributes(custom!.attributes, now).status, 'disabled');
    assert.equal(await d.lookup({ sAMAccountName: 'nobody' }), null);
    assert.equal(d.health().state, 'up');
  });

  it('binds by objectGUID: a renamed user is found, a re-used name is another object', async () => {
    const X = '00000000-0000-4000-8000-00000000000a';
    const Y = '00000000-0000-4000-8000-00000000000b';
    const before = new FileDirectory(
      write('guid1.yaml', `users: [{ sAMAccountName: a, objectGUID: "${X}" }]`),
    );
    assert.deepEqual(await before.lookupBound(X, { sAMAccountName: 'A' }).then((r) => r.name), 'same');
    const after = new FileDirectory(
      write(
        'guid2.yaml',
        `users: [{ sAMAccountName: b, objectGUID: "${X}" }, { sAMAccountName: a, objectGUID: "${Y}" }]`,
      ),
    );
    const reused = await after.lookupBound(X, { sAMAccountName: 'a' });
    assert.equal(reused.name, 'other');
    assert.equal(reused.otherGUID, Y);
    assert.equal(reused.entry?.user.sAMAccountName, 'b');
    const renamed = await after.lookupBound(X, { sAMAccountName: 'gone-name' });
    assert.equal(renamed.name, 'free');
    assert.equal(renamed.entry?.user.sAMAccountName, 'b');
    assert.deepEqual(await after.lookupBound(Y.replace('b', 'c'), { sAMAccountName: 'nobody' }), {
      entry: null,
      name: 'free',
    });
    // Without an objectGUID in the file, one is derived from the name and stays across re-reads.
    const derived = (
      await new FileDirectory(write('guid3.yaml', 'users: [{ sAMAccountName: c }]')).lookup({
        sAMAccountName: 'c',
      })
    )?.identity?.objectGUID;
    assert.equal(derived, fileGuid('C'));
  });

  it('reads JSON too', async () => {
    const d = new FileDirectory(
      write('users.json', JSON.stringify({ users: [{ sAMAccountName: 'j', state: 'locked_out' }] })),
    );
    const e = await d.lookup({ sAMAccountName: 'j' });
    assert.equal(statusFromAttributes(e!.attributes, new Date()).status, 'locked_out');
  });

  it('refuses a bad file at start, naming the file and the problem', () => {
    const cases: Array<[string, RegExp]> = [
      ['users: [ {', /not valid YAML or JSON/],
      ['people: []', /users: .*expected array/],
      ['users: [{ sAMAccountName: a, state: sleepy }]', /users\.0\.state/],
      ['users: [{ sAMAccountName: a, colour: red }]', /users\.0.*colour|colour/],
      ['users: [{ sAMAccountName: a }, { sAMAccountName: A }]', /A appears twice/],
    ];
    for (const [text, problem] of cases) {
      const path = write('bad.yaml', text);
      assert.throws(
        () => new FileDirectory(path),
        (e: Error) => e.message.startsWith(path) && problem.test(e.message),
        text,
      );
    }
    assert.throws(() => new FileDirectory(join(dir, 'missing.yaml')), /ENOENT/);
  });

  it('picks up edits, and keeps the last good users when an edit is broken', async () => {
    const path = write('live.yaml', 'users: [{ sAMAccountName: a, state: active }]');
    const d = new FileDirectory(path, { recheckMs: 0 });
    const bump = (text: string, secondsAhead: number) => {
      writeFileSync(path, text);
      const t = new Date(Date.now() + secondsAhead * 1000);
      utimesSync(path, t, t);
    };
    bump('users: [{ sAMAccountName: a, state: disabled }]', 5);
    const a = await d.lookup({ sAMAccountName: 'a' });
    assert.equal(statusFromAttributes(a!.attributes, new Date(Date.now() + 10_000)).status, 'disabled');
    bump('users: [ broken', 10);
    const still = await d.lookup({ sAMAccountName: 'a' });
    assert.equal(still?.attributes.userAccountControl, '514');
    assert.equal(d.health().state, 'down');
    assert.match(d.health().detail ?? '', /live\.yaml: not valid YAML/);
  });

  it('checks the file at most once per recheckMs, so a lookup per tap is not a stat per tap', async () => {
    const path = write('throttled.yaml', 'users: [{ sAMAccountName: a, state: active }]');
    let now = 1_000_000;
    const d = new FileDirectory(path, { recheckMs: 1000, now: () => now });
    writeFileSync(path, 'users: [{ sAMAccountName: a, state: disabled }]');
    const t = new Date(Date.now() + 5000);
    utimesSync(path, t, t);
    now += 999;
    const before = await d.lookup({ sAMAccountName: 'a' });
    assert.equal(before?.attributes.userAccountControl, '512');
    now += 1;
    const after = await d.lookup({ sAMAccountName: 'a' });
    assert.equal(after?.attributes.userAccountControl, '514');
  });
});
