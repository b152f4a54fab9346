import { AssertionVerifier } from '@tapgate/assertions';
import { AUDIT_STREAM } from '@tapgate/contracts';
import { startDemo, type RunningDemo } from '@tapgate/demo';
import { Platform, REPO_ROOT, freePort, startSambaAd, waitFor, type SambaAd } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { launchChromium, screenshot, waitForText, type Browser } from './browser';

const CONNECTED = 'Connected to authentication service. Tap device on NFC reader.';
const DISCONNECTED = 'Disconnected from authentication service. Enter userid and password.';
const TERMINAL = 'BROWSER-T1';
const AUDIENCE = 'pomsnet-browser-test';

/** Runs the audit CLI's verify against the platform's NATS: its exit code and JSON report. */
function auditVerify(
  platform: Platform,
): Promise<{ code: number; report: { ok: boolean; checked: number; why?: string } }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [join(REPO_ROOT, 'libs/audit/dist/cli.js'), 'verify', '--json', '--nats', platform.nats.url],
      {
        env: { ...process.env, TAPGATE_CONFIG: join(platform.opts.dir, 'nymi_agent.toml') },
        timeout: 20_000,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        try {
          resolve({ code, report: JSON.parse(stdout) as { ok: boolean; checked: number; why?: string } });
        } catch {
          reject(new Error(`audit CLI exit ${code}: ${stdout} ${stderr}`));
        }
      },
    );
  });
}

describe('the demo NEA page in Chromium against the real services and a real Samba AD', () => {
  let samba: SambaAd;
  let platform: Platform;
  let demo: RunningDemo;
  let browser: Browser;
  let page: Page;
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-browser-'));

  /** A fresh page (a new NEA connection); waits for the SDK's connected event unless told otherwise. */
  const openPage = async (query = '', connected = true): Promise<Page> => {
    await page?.close();
    page = await browser.context.newPage();
    await page.goto(`${demo.page.url}${query}`);
    if (connected) await waitForText(page, '#status', /^Connected to authentication service/);
    return page;
  };
  /** Taps through the page's reader panel, as a newcomer would. */
  const tap = (user: string) => page.click(`button[data-user="${user}"][data-action="tap"]`);
  const waitForLoginRequest = () => waitForText(page, '#log', /login request \w+ waiting for a tap/);

  before(async () => {
    // Fails fast (before Samba) when Chromium is missing.
    browser = await launchChromium();
    samba = await startSambaAd();
    await samba.createUser('erin', { displayName: 'Erin Active' });
    platform = await Platform.start({
      dir,
      logLevel: 'warn',
      users: [],
      ldap: {
        url: samba.ldapsUrl,
        baseDn: samba.baseDn,
        bindDn: samba.serviceAccount.dn,
        bindPassword: samba.serviceAccount.password,
        caFile: samba.caFile,
      },
    });
    demo = await startDemo(platform, {
      dir,
      terminalId: TERMINAL,
      pagePort: 0,
      controlPort: await freePort(),
      audience: AUDIENCE,
      bands: ['alice', 'bob', 'erin'].map((user) => ({ user, authenticated: true })),
    });
    // Until presence has the bands' adverts, taps are refused as not authenticated; wait for the real
    // decisions (no NEA is listening yet, so alice's and erin's grants become no_listener).
    for (const user of ['alice', 'bob', 'erin']) {
      await waitFor(
        async () => {
          const res = await demo.control(`/bands/${demo.bandIds[user]}/tap`);
          const body = (await res.json()) as { decision?: { reason?: string } };
          return ['no_listener', 'user_not_active'].includes(body.decision?.reason ?? '');
        },
        { what: `${user}'s band known to presence` },
      );
    }
  });

  after(async () => {
    await page?.close().catch(() => undefined);
    await browser?.close();
    await demo?.stop();
    await platform?.stop();
    await samba?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the connected message', async () => {
    await openPage();
    assert.equal((await page.locator('#status').textContent())?.trim(), CONNECTED);
    await screenshot(page, '01-connected');
  });

  it("logs alice in with her authenticated band; the page's server verified the assertion against the JWKS", async () => {
    await openPage();
    await waitForLoginRequest();
    await tap('alice');
    const session = await waitForText(page, '#session', /^(Signed in as|Not signed in:|Refused)/);
    assert.match(session, /^Signed in as Alice Active \(alice\)$/);
    const answer = (await (await fetch(`${demo.page.url}pomsnet/session`)).json()) as {
      signedIn: boolean;
      user?: string;
    };
    assert.deepEqual([answer.signedIn, answer.user], [true, 'alice']);
    await waitForText(page, '#log', /assertion verified against the JWKS; alice is signed in/);
    await screenshot(page, '02-alice-signed-in');
    await page.click('#logout');
    await waitForText(page, '#session', /^Not signed in\.$/);
  });

  it('refuses bob, who is disabled in AD, and shows why', async () => {
    await openPage();
    await waitForLoginRequest();
    await tap('bob');
    const session = await waitForText(page, '#session', /^(Signed in as|Not signed in:|Refused)/);
    assert.match(session, /^Refused: .+ \(user_not_active, status disabled\)$/);
    const answer = (await (await fetch(`${demo.page.url}pomsnet/session`)).json()) as { signedIn: boolean };
    assert.equal(answer.signedIn, false);
    await screenshot(page, '03-bob-refused');
  });

  it('signs with alice then erin; alice twice is refused', async () => {
    await openPage();
    await page.click('#open-esign');
    await page.selectOption('#esign-reason', 'Edit equipment');
    await page.fill('#esign-comment', 'PM-42 done');
    await page.click('#esign-ok');
    await waitForText(page, '#esign-status', /First and second user: tap/);
    await tap('alice');
    await waitForText(page, '#first-user', /^Alice Active$/);
    await tap('alice');
    const refused = await waitForText(page, '#esign-status', /refused/);
    assert.match(refused, /^Signer 2 refused: .*same_signer/);
    assert.equal(await page.locator('#second-user').textContent(), '-');
    await screenshot(page, '04-esign-alice-twice');
    await tap('erin');
    await waitForText(page, '#second-user', /^Erin Active$/);
    const signed = await waitForText(page, '#esign-status', /^(Signed by|Not signed)/);
    assert.equal(signed, 'Signed by Alice Active and Erin Active (Edit equipment)');
    await screenshot(page, '05-esign-signed');
    await page.click('#esign-ok');
  });

  it('shows the disconnected message when configured for wss against the ws-only port', async () => {
    await openPage(`?protocol=wss&port=${platform.ports.agent}`, false);
    // The status starts with this text; the SDK's event (in the log) proves it was decided, not left over.
    await waitForText(page, '#log', /SDK: disconnected/);
    assert.equal((await page.locator('#status').textContent())?.trim(), DISCONNECTED);
    await waitForText(page, '#log', /connecting to wss:\/\/127\.0\.0\.1:\d+\//);
    await screenshot(page, '06-wss-disconnected');
  });

  it('an assertion altered by one byte fails verification against the JWKS', async () => {
    await openPage();
    let original = '';
    // The byte is changed on its way from the page to the POMSnet server.
    await page.route('**/pomsnet/login', async (route) => {
      original = route.request().postData() ?? '';
      const payloadStart = original.indexOf('.') + 1;
      const i = payloadStart + 20;
      const altered = original.slice(0, i) + (original[i] === 'A' ? 'B' : 'A') + original.slice(i + 1);
      await route.continue({ postData: altered });
    });
    await waitForLoginRequest();
    await tap('alice');
    const session = await waitForText(page, '#session', /^(Signed in as|Not signed in:|Refused)/);
    assert.equal(session, 'Not signed in: the POMSnet server refused the assertion (bad_signature)');
    await screenshot(page, '07-altered-assertion');
    // The unaltered token verifies: only the changed byte made the difference.
    const claims = await new AssertionVerifier({
      jwksUrl: platform.jwksUrl,
      audience: AUDIENCE,
      kind: 'login',
    }).verify(original);
    assert.equal(claims.sub, 'alice');
  });

  it("an assertion obtained for another of the server's requests is refused (nonce)", async () => {
    await openPage();
    let captured = '';
    // The page's assertion never reaches the server: it is taken on the way, as an attacker would.
    await page.route('**/pomsnet/login', async (route) => {
      captured = route.request().postData() ?? '';
      await route.fulfill({
        status: 401,
        json: { signedIn: false, reason: 'intercepted', detail: 'taken on its way to the server' },
      });
    });
    await waitForLoginRequest();
    await tap('alice');
    await waitFor(() => captured !== '', { what: "alice's assertion on its way to the server" });
    const post = async (nonce: string) => {
      const r = await fetch(`${demo.page.url}pomsnet/login`, {
        method: 'POST',
        body: captured,
        headers: { cookie: `pomsnet_login_nonce=${nonce}` },
      });
      return { status: r.status, body: (await r.json()) as { signedIn: boolean; reason?: string } };
    };
    // Presented in another session of the server (its own, fresh nonce): refused.
    const other = await fetch(`${demo.page.url}pomsnet/login/begin`, { method: 'POST' });
    const { nonce: otherNonce } = (await other.json()) as { nonce: string };
    const refused = await post(otherNonce);
    assert.deepEqual([refused.status, refused.body.reason], [401, 'wrong_nonce']);
    // A nonce the server never issued: refused before the assertion is looked at.
    assert.equal((await post('made-up')).body.reason, 'no_request');
    // In the session that opened the request it verifies (and only once).
    const pageNonce = (await page.context().cookies()).find((c) => c.name === 'pomsnet_login_nonce');
    assert.ok(pageNonce?.httpOnly, 'the page session keeps its nonce in an HttpOnly cookie');
    const accepted = await post(pageNonce.value);
    assert.deepEqual([accepted.status, accepted.body.signedIn], [200, true]);
    assert.equal((await post(pageNonce.value)).body.reason, 'no_request');
    await page.unroute('**/pomsnet/login');
    await fetch(`${demo.page.url}pomsnet/logout`, { method: 'POST' });
  });

  it('the audit chain verifies, then fails after a stored record is altered', async () => {
    const before = await auditVerify(platform);
    assert.equal(before.code, 0, JSON.stringify(before.report));
    assert.equal(before.report.ok, true);
    // At least: alice's login, bob's refusal, the e-signature's refusal and completion, the altered login.
    assert.ok(before.report.checked >= 5, `records: ${before.report.checked}`);

    // Someone with access to the NATS server's disk changes one character of alice's login record.
    await platform.nats.stop();
    const msgs = join(platform.nats.storeDir!, 'jetstream', '$G', 'streams', AUDIT_STREAM, 'msgs');
    const blk = readdirSync(msgs).find((f) => f.endsWith('.blk'))!;
    const bytes = readFileSync(join(msgs, blk));
    const at = bytes.indexOf('"sAMAccountName":"alice"');
    assert.ok(at > 0, 'the record is in the block file');
    bytes[at + '"sAMAccountName":"'.length] = 'm'.charCodeAt(0);
    writeFileSync(join(msgs, blk), bytes);
    await platform.nats.start();

    const afterEdit = await auditVerify(platform);
    assert.equal(afterEdit.code, 1, JSON.stringify(afterEdit.report));
    assert.equal(afterEdit.report.ok, false);
    assert.ok(['missing_record', 'hash_mismatch'].includes(afterEdit.report.why ?? ''), afterEdit.report.why);
    assert.deepEqual(browser.pageErrors, []);
  });
});
