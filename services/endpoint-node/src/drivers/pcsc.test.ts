import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pcscUnavailableMessage } from './pcsc';

// The start-up error when the PC/SC binding cannot be loaded: the node exits 2 with it, so it has to say
// what is missing for the way the node runs. (The Linux package's executable is run without its binding
// in tests/deploy; the Windows executable cannot run on this machine, so its text is checked here.)
describe('pcscUnavailableMessage', () => {
  const cause = "Cannot find module '@pokusew/pcsclite'";

  it('Windows package: names the missing binding, says nfc is not available and what to use instead', () => {
    const text = pcscUnavailableMessage(cause, { singleExecutable: true, platform: 'win32' });
    assert.match(text, /^driver = "nfc" is not available in the Windows package/);
    assert.match(text, /@pokusew\/pcsclite/);
    assert.match(text, /no prebuilt Windows binary/);
    assert.match(text, /driver = "ble"/);
    assert.match(text, /"Installing the endpoint node on Windows"/);
    assert.ok(text.endsWith(cause));
  });

  it('Linux package: the binding ships beside the executable and needs pcsc-lite', () => {
    const text = pcscUnavailableMessage(cause, { singleExecutable: true, platform: 'linux' });
    assert.match(text, /could not be loaded: Cannot find module/);
    assert.match(text, /node_modules beside the executable/);
    assert.match(text, /apt-get install libpcsclite1 pcscd/);
  });

  it('source install: rebuild with scripts/setup.sh, whatever the platform', () => {
    for (const platform of ['linux', 'win32'] as const) {
      const text = pcscUnavailableMessage(cause, { singleExecutable: false, platform });
      assert.match(text, /Install libpcsclite-dev and rebuild it: scripts\/setup\.sh/);
    }
  });
});
