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

/** The part of the page's DOM the init script uses (this package has no DOM typings). */
interface PageDocument {
  getElementById(id: string): { className: string; textContent: string | null } | null;
  addEventListener(type: string, listener: () => void): void;
}
declare const MutationObserver: new (cb: () => void) => { observe(target: unknown, options: object): void };

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
  const openPage = async (
    query = '',
    connected = true,
    beforeLoad?: (p: Page) => Promise<unknown>,
  ): Promise<Page> => {
    await page?.close();
    page = await browser.context.newPage();
    await beforeLoad?.(page);
    await page.goto(`${demo.page.url}${query}`);
    if (connected) await waitForText(page, '#status', /^Connected to authentication service/);
    return page;
  };
  /** Taps through the page's reader panel, as a newcomer would. */
  const tap = (user: string) => page.click(`button[data-user="${user}"][data-action="tap"]`);
  /** Until a login request is pending now: the newest login line of the log says it waits for a tap. */
  const waitForLoginRequest = () =>
    page.waitForFunction(
      `(() => {
        const lines = Array.from(document.querySelectorAll('#log div'), (d) => d.textContent);
        const i = lines.findIndex((l) => /waiting for a tap|login refused|tapped to log in|login request/.test(l));
        return i >= 0 && /waiting for a tap/.test(lines[i]);
      })()`,
      undefined,
      { timeout: 15_000, polling: 100 },
    );
  /** A login tap once the page waits for one; the session line after the POMSnet server answered. */
  const loginTap = async (user: string): Promise<string> => {
    await waitForLoginRequest();
    await tap(user);
    return waitForText(page, '#session', /^(Signed in as|Not signed in:|Refused)/);
  };
  const dialogOpen = () => page.locator('#esign').evaluate((d) => (d as unknown as { open: boolean }).open);

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

  it('shows the connected message, after a neutral "Connecting…" and never a red "Disconnected"', async () => {
    await openPage('', true, (p) =>
      // Records every state of the status line from the first paint on, as a person would see it.
      p.addInitScript(() => {
        const doc = (globalThis as unknown as { document: PageDocument }).document;
        const seen: string[] = ((globalThis as unknown as { statusSeen: string[] }).statusSeen = []);
        const record = () => {
          const el = doc.getElementById('status');
          if (el) seen.push(`${el.className}|${el.textContent?.trim()}`);
        };
        doc.addEventListener('DOMContentLoaded', () => {
          record();
          new MutationObserver(record).observe(doc.getElementById('status')!, {
            childList: true,
            characterData: true,
            subtree: true,
            attributes: true,
          });
        });
      }),
    );
    assert.equal((await page.locator('#status').textContent())?.trim(), CONNECTED);
    const seen = await page.evaluate(() => (globalThis as unknown as { statusSeen: string[] }).statusSeen);
    assert.equal(seen[0], 'status neutral|Connecting to authentication service…');
    assert.ok(!seen.some((s) => s.includes('Disconnected') || s.includes(' bad|')), seen.join(' / '));
    assert.equal(seen.at(-1), `status ok|${CONNECTED}`);
    await screenshot(page, '01-connected');
  });

  it("logs alice in with her authenticated band; the page's server verified the assertion against the JWKS", async () => {
    await openPage();
    const session = await loginTap('alice');
    assert.match(session, /^Signed in as Alice Active \(alice\)$/);
    // The reader log reads as sentences, not as "gateway decided not connected to the gateway".
    await waitForText(
      page,
      '#log',
      /alice's band was tapped; the gateway granted it: Welcome, Alice Active\. It went to one application\./,
    );
    assert.doesNotMatch((await page.locator('#log').textContent()) ?? '', /gateway decided|\{"/);
    const answer = (await (await fetch(`${demo.page.url}pomsnet/session`)).json()) as {
      signedIn: boolean;
      user?: string;
    };
    assert.deepEqual([answer.signedIn, answer.user], [true, 'alice']);
    await waitForText(page, '#log', /the sign-in verified against the JWKS; Alice Active is signed in/);
    await screenshot(page, '02-alice-signed-in');
    await page.click('#logout');
    await waitForText(page, '#session', /^Not signed in\.$/);
  });

  it('refuses bob, who is disabled in AD, in plain words; the refusal does not stay for the next person', async () => {
    await openPage();
    const session = await loginTap('bob');
    assert.equal(session, 'Refused: Your account is disabled in Active Directory.');
    const answer = (await (await fetch(`${demo.page.url}pomsnet/session`)).json()) as { signedIn: boolean };
    assert.equal(answer.signedIn, false);
    await screenshot(page, '03-bob-refused');
    // Nobody taps again: the line returns to its waiting state instead of greeting the next person
    // with bob's refusal.
    await waitForText(page, '#session', /^Not signed in\.$/, 15_000);
    // The next tap clears it at once, before its own answer comes.
    await loginTap('bob');
    await waitForLoginRequest();
    // Alice's tap is held on its way for a second: her answer has not come, bob's refusal is gone already.
    await page.route('**/api/bands/*/tap', async (route) => {
      await new Promise((r) => setTimeout(r, 1_000));
      await route.continue();
    });
    await tap('alice');
    assert.equal(await page.locator('#session').textContent(), 'Not signed in.');
    assert.match(await waitForText(page, '#session', /^(Signed in as|Refused)/), /^Signed in as Alice/);
    await page.unroute('**/api/bands/*/tap');
    await page.click('#logout');
  });

  it('shows the codes behind a refusal only with debug=1', async () => {
    await openPage('?debug=1');
    const session = await loginTap('bob');
    assert.equal(
      session,
      'Refused: Your account is disabled in Active Directory. (user_not_active, status disabled)',
    );
    await screenshot(page, '03b-bob-refused-debug');
  });

  it("signs with alice then erin; alice twice is refused; the guide's window and 21 CFR 11.50's manifestation", async () => {
    await openPage();
    const opened = new Date();
    await page.click('#open-esign');
    // The guide's e-signature window: initiated at, the statement, the connection status line.
    const title = (await page.locator('#esign-title').textContent()) ?? '';
    const m = /^Electronic Signature initiated at (\d\d)\/(\d\d)\/(\d{4}) (\d\d):(\d\d):(\d\d)$/.exec(title);
    assert.ok(m, title);
    const initiated = new Date(+m[3], +m[1] - 1, +m[2], +m[4], +m[5], +m[6]);
    assert.ok(Math.abs(initiated.getTime() - opened.getTime()) < 5_000, `${title} vs ${opened.toString()}`);
    assert.equal(
      (await page.locator('#esign-statement').textContent())?.trim(),
      'Entering your user ID and password constitutes an electronic signature',
    );
    assert.equal((await page.locator('#esign-connection').textContent())?.trim(), CONNECTED);
    await page.selectOption('#esign-reason', 'Edit equipment');
    await page.fill('#esign-comment', 'PM-42 done');
    await page.click('#esign-ok');
    await waitForText(page, '#esign-status', /First and second user: tap/);
    await tap('alice');
    await waitForText(page, '#first-user', /^Alice Active$/);
    await waitForText(page, '#esign-status', /^Second user: tap your band\.$/);
    await tap('alice');
    const refused = await waitForText(page, '#esign-status', /refused/);
    assert.equal(refused, 'Second signature refused: The second signature must come from another person.');
    assert.equal(await page.locator('#second-user').textContent(), '-');
    await screenshot(page, '04-esign-alice-twice');
    await tap('erin');
    await waitForText(page, '#second-user', /^Erin Active$/);
    const signed = await waitForText(page, '#esign-status', /^(Signed by|Not signed)/);
    assert.equal(signed, 'Signed by Alice Active and Erin Active (Edit equipment)');
    // Each signature: printed name, date and time, meaning.
    const rows = await page
      .locator('#esign-signatures tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) =>
          Array.from(
            (tr as unknown as { cells: ArrayLike<{ textContent: string | null }> }).cells,
            (c) => c.textContent,
          ),
        ),
      );
    assert.equal(rows.length, 2, JSON.stringify(rows));
    assert.deepEqual(
      rows.map((r) => [r[0], r[2]]),
      [
        ['Alice Active', 'Edit equipment (signer 1)'],
        ['Erin Active', 'Edit equipment (signer 2)'],
      ],
    );
    for (const r of rows) assert.match(r[1] ?? '', /^\d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d$/);
    assert.ok(await page.locator('#esign-signatures').isVisible());
    await screenshot(page, '05-esign-signed');
    await page.click('#esign-ok');
    assert.equal(await dialogOpen(), false);
  });

  it('Cancel after the ceremony ended closes the window without an error; Log Out is reachable', async () => {
    await openPage();
    assert.match(await loginTap('alice'), /^Signed in as Alice Active/);
    const errorsBefore = browser.pageErrors.length;
    await page.click('#open-esign');
    await page.selectOption('#esign-reason', 'Acknowledge alarm');
    await page.click('#esign-ok');
    await waitForText(page, '#esign-status', /^Tap your band\.$/);
    await tap('alice');
    await waitForText(page, '#esign-status', /^Signed by Alice Active \(Acknowledge alarm\)$/);
    await page.click('#esign-cancel');
    assert.equal(await dialogOpen(), false);
    assert.deepEqual(browser.pageErrors.slice(errorsBefore), []);
    // The window no longer covers the login column: Log Out takes the click.
    await page.click('#logout', { timeout: 5_000 });
    await waitForText(page, '#session', /^Not signed in\.$/);
    // Cancel while a ceremony waits cancels it at the gateway.
    await page.click('#open-esign');
    await page.click('#esign-ok');
    await waitForText(page, '#esign-status', /tap your band/i);
    await page.click('#esign-cancel');
    await waitForText(page, '#log', /e-signature cancelled before every signer tapped/);
    assert.equal(await dialogOpen(), false);
    assert.deepEqual(browser.pageErrors.slice(errorsBefore), []);
  });

  it('Manual Entry with a user id and password never starts a tap ceremony', async () => {
    const sent: string[] = [];
    await openPage('', true, async (p) => {
      p.on('websocket', (ws) => ws.on('framesent', (f) => sent.push(String(f.payload))));
    });
    await page.click('#open-esign');
    await page.check('#manual-entry');
    await page.fill('#manual-user', 'alice');
    await page.fill('#manual-password', 'not-a-real-password');
    await page.click('#esign-ok');
    const status = await waitForText(page, '#esign-status', /Manual entry/);
    assert.match(status, /^Manual entry is not available in this demo/);
    await screenshot(page, '05b-esign-manual-entry');
    // A tap now is an ordinary tap event: nobody signs.
    await tap('alice');
    await waitForText(page, '#log', /SDK: Alice Active tapped/);
    assert.equal(await page.locator('#first-user').textContent(), '-');
    assert.ok(!sent.some((f) => f.includes('esign.open')), 'no esign.open was sent');
    assert.ok(!sent.some((f) => f.includes('not-a-real-password')), 'the password never left the page');
    await page.click('#esign-cancel');
    assert.equal(await dialogOpen(), false);
  });

  it('a band removed on the page is clasped and authenticated again there, then logs in', async () => {
    await openPage();
    const state = page.locator('.state[data-user="erin"]');
    await page.click('button[data-user="erin"][data-action="remove"]');
    await waitForText(page, '.state[data-user="erin"]', /removed/);
    await page.click('button[data-user="erin"][data-action="authenticate"]');
    await waitForText(
      page,
      '#log',
      /erin's band could not be authenticated: it is not on a wrist\. Clasp it first\./,
    );
    // Removed, her band does not answer a tap at all; the reader log says so in a sentence.
    await tap('erin');
    await waitForText(
      page,
      '#log',
      /erin's band was tapped, but it did not answer: a band answers only on a wrist/,
    );
    assert.equal(await page.locator('#session').textContent(), 'Not signed in.');
    await page.click('button[data-user="erin"][data-action="clasp"]');
    await waitForText(page, '.state[data-user="erin"]', /on the wrist; fingerprint not verified/);
    await page.click('button[data-user="erin"][data-action="authenticate"]');
    await waitForText(page, '.state[data-user="erin"]', /on the wrist and authenticated/);
    assert.match((await state.textContent()) ?? '', /authenticated/);
    // Presence learns the new state from the next adverts (about a second).
    let session = '';
    await waitFor(
      async () => {
        session = await loginTap('erin');
        return session.startsWith('Signed in as');
      },
      { what: 'erin signed in after clasp and authenticate', timeoutMs: 20_000 },
    );
    assert.equal(session, 'Signed in as Erin Active (erin)');
    await screenshot(page, '05c-erin-clasped-again');
    await page.click('#logout');
  });

  it('a band that is not enrolled is refused in a sentence like the directory ones, without codes', async () => {
    await openPage();
    // A new band, never enrolled, worn and authenticated on the demo reader.
    const created = (await (await demo.control('/bands')).json()) as { bandId: string };
    for (const step of ['clasp', 'authenticate']) await demo.control(`/bands/${created.bandId}/${step}`);
    const res = await demo.control(`/bands/${created.bandId}/tap`);
    const body = (await res.json()) as { decision?: { reason?: string; message?: string } };
    assert.deepEqual(
      [body.decision?.reason, body.decision?.message],
      ['unknown_band', 'This band is not enrolled. Ask an administrator to enroll it.'],
    );
    const line = await waitForText(page, '#log', /refused: This band is not enrolled/);
    assert.match(
      line,
      /SDK: Someone tapped; refused: This band is not enrolled\. Ask an administrator to enroll it\./,
    );
    assert.doesNotMatch(line, /unknown_band/);
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
    const session = await loginTap('alice');
    assert.equal(session, 'Not signed in: the POMSnet server could not verify the sign-in.');
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
