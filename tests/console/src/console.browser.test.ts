import { launchChromium, waitForText, type Browser } from '@tapgate/browser-tests';
import {
  UserStatusGet,
  UserStatusInvalidate,
  type PolicySettings,
  type StatusAnswer,
  type TapDecision,
} from '@tapgate/contracts';
import { startDemo, type RunningDemo } from '@tapgate/demo';
import { Messaging } from '@tapgate/messaging';
import { Platform, freePort, sleep, startSambaAd, waitFor, type SambaAd } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { VIEWPORT, axeViolations, consoleScreenshot, fitsWidth, focused, tabTo } from './console-page';
import { createConsoleAdmin, type ConsoleAdmin } from './directory-admins';

const ADMIN_GROUP = 'Tapgate Console Admins';
const TERMINAL = 'CONSOLE-T1';
const POLICY_CHANGE_BUDGET_MS = 1000;

interface Readiness {
  policy: { checkUserStatus: boolean; cacheUserStatus: boolean; cacheExpirySeconds: number };
  redis: { state: string };
}

describe('the administrator console in Chromium against the real services and a real Samba AD', () => {
  let samba: SambaAd;
  let admin: ConsoleAdmin;
  let platform: Platform;
  let messaging: Messaging;
  let demo: RunningDemo;
  let browser: Browser;
  let page: Page;
  /** When user-status cached alice's status, under the default policy's 15 minute expiry. */
  let aliceFilledAt = 0;
  /** From the console's "Saved" to user-status reporting the 30 s expiry. */
  let expiryAppliedMs = -1;
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-console-'));

  const consoleUrl = () => `http://127.0.0.1:${platform.ports.policyHttp}/console/`;
  const readiness = async (): Promise<Readiness> =>
    (await (await fetch(`http://127.0.0.1:${platform.ports.userStatusHttp}/readyz`)).json()) as Readiness;
  const askAlice = (): Promise<StatusAnswer> =>
    messaging.request(UserStatusGet, { v: 1, user: { sAMAccountName: 'alice' } });
  const storedDefault = () =>
    platform.api<{ settings: PolicySettings; revision: number }>('GET', '/v1/policies/default');
  const tapAlice = async (): Promise<TapDecision | undefined> => {
    const res = await demo.control(`/bands/${demo.bandIds.alice}/tap`);
    return ((await res.json()) as { decision?: TapDecision }).decision;
  };
  const enrollmentState = () => `[id="enr-${demo.bandIds.alice}"] .state`;
  const goTo = async (section: string) => {
    await page.locator('#nav').getByRole('link', { name: section }).click();
    await waitForText(page, '#main h2', new RegExp(`^${section}$`));
  };
  const waitForSaved = () => waitForText(page, '#toast', /^Saved Default group policy \(revision \d+\)$/);
  /** Confirms the dialog an action opened (Suspend, Disable, Delete act only after it). */
  const confirmDialog = async (title: RegExp) => {
    await waitForText(page, '#confirm-title', title);
    await page.click('#confirm-ok');
  };
  const noSeriousA11yViolations = async (what: string) =>
    assert.deepEqual(await axeViolations(page), [], `axe on ${what}`);

  before(async () => {
    // Fails fast (before Samba) when Chromium is missing.
    browser = await launchChromium();
    samba = await startSambaAd();
    admin = await createConsoleAdmin(samba, ADMIN_GROUP, 'tgadmin');
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
      adminGroup: ADMIN_GROUP,
      // Not 30 s: only the policy written through the console may make 30 s entries stale.
      userStatusCacheExpirySeconds: 3600,
    });
    messaging = new Messaging({ servers: [platform.nats.url], name: 'console-test', requestTimeoutMs: 5000 });
    await platform.api('POST', '/v1/policies', {
      policyId: 'default',
      kind: 'default',
      name: 'Default group policy',
      settings: {
        activeDirectory: { checkUserStatus: true, cacheUserStatus: true, cacheExpirySeconds: 900 },
        tap: { allowBleTaps: true, allowUidTaps: false, requirePresence: false },
        esign: { secondSignerMustDiffer: true, ceremonyTimeoutSeconds: 120 },
      },
    });
    await waitFor(async () => (await readiness()).policy.cacheExpirySeconds === 900, {
      what: 'user-status applying the default policy (15 minutes)',
    });
    // Cached now; the 30 s expiry set in the console must make this very entry stale 30 s from now.
    aliceFilledAt = Date.parse((await askAlice()).checkedAt);
    demo = await startDemo(platform, {
      dir,
      terminalId: TERMINAL,
      pagePort: 0,
      controlPort: await freePort(),
      audience: 'console-browser-test',
      bands: [{ user: 'alice', authenticated: true }],
    });
    // Until presence has the band's advert the tap is refused as not authenticated; no NEA listens.
    await waitFor(async () => (await tapAlice())?.reason === 'no_listener', {
      what: "alice's band known to presence",
    });
    page = await browser.context.newPage();
    await page.setViewportSize(VIEWPORT);
  });

  after(async () => {
    await page?.close().catch(() => undefined);
    await browser?.close();
    await messaging?.close();
    await demo?.stop();
    await platform?.stop();
    await samba?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('1. logs the admin group member in; the session cookie is HttpOnly and SameSite=Strict', async () => {
    await page.goto(consoleUrl());
    await waitFor(async () => (await focused(page)) === '#username', { what: 'the login page' });
    await noSeriousA11yViolations('Login');
    await consoleScreenshot(page, '00-login');
    await page.fill('#username', admin.sAMAccountName);
    await page.fill('#password', admin.password);
    await page.click('#login-submit');
    await waitForText(page, '#whoami', /^tgadmin \(admin\)$/);
    await waitForText(page, '#main h2', /^Policies$/);
    await waitForText(page, '#policies', /Default group policy/);
    const session = (await browser.context.cookies()).find((c) => c.name === 'tapgate_session');
    assert.ok(session, 'no session cookie');
    assert.deepEqual([session.httpOnly, session.sameSite], [true, 'Strict']);
    assert.ok(await fitsWidth(page), 'the Policies page scrolls sideways at 1366x768');
    await noSeriousA11yViolations('Policies');
    await consoleScreenshot(page, '01-policies');
  });

  it('2. sets Cache Expiry to 30 seconds and saves', async () => {
    await page.getByRole('link', { name: 'Default group policy' }).click();
    await waitForText(page, '#main h2', /^Policy: Default group policy$/);
    assert.equal(await page.inputValue('#cacheExpirySeconds'), '900');
    const choices = await page.locator('#cacheExpirySeconds option').allTextContents();
    assert.deepEqual([choices[0], choices.at(-1)], ['30 seconds', '24 hours']);
    // Before the save, user-status still serves alice's entry from its cache.
    const cached = await askAlice();
    assert.deepEqual([cached.source, Date.parse(cached.checkedAt)], ['cache', aliceFilledAt]);

    await noSeriousA11yViolations('the policy form');
    await page.getByLabel('Cache Expiry', { exact: true }).selectOption({ label: '30 seconds' });
    await page.click('#save');
    await waitForSaved();
    const savedAt = Date.now();
    await waitFor(async () => (await readiness()).policy.cacheExpirySeconds === 30, {
      timeoutMs: 5000,
      intervalMs: 10,
      what: 'user-status reporting the 30 s expiry',
    });
    expiryAppliedMs = Date.now() - savedAt;
    // The page reloads the policy from the server after saving.
    await waitFor(async () => (await page.inputValue('#cacheExpirySeconds')) === '30', {
      what: 'the form showing the saved 30 s',
    });
    assert.equal((await storedDefault()).settings.activeDirectory.cacheExpirySeconds, 30);
    await consoleScreenshot(page, '02-policy-cache-expiry-30s');
  });

  it('3. user-status applies the 30 s expiry: the entry cached under 15 minutes is re-read at 30 s', async (t) => {
    t.diagnostic(`policy change seen by user-status ${expiryAppliedMs} ms after the console's save`);
    assert.ok(
      expiryAppliedMs >= 0 && expiryAppliedMs <= POLICY_CHANGE_BUDGET_MS,
      `took ${expiryAppliedMs} ms`,
    );
    const staleAt = aliceFilledAt + 30_000;
    let cacheAnswers = 0;
    for (;;) {
      const askedAt = Date.now();
      const answer = await askAlice();
      if (answer.source === 'directory') {
        // Never early; never late either, as every cached answer below was asked for before the 30 s.
        assert.ok(Date.now() >= staleAt, `re-read ${staleAt - Date.now()} ms before the 30 s`);
        assert.ok(Date.parse(answer.checkedAt) > aliceFilledAt);
        t.diagnostic(`served from cache ${cacheAnswers} times; re-read ${askedAt - staleAt} ms after 30 s`);
        break;
      }
      assert.equal(answer.source, 'cache');
      // A cached answer asked for after the 30 s (beyond clock granularity) means the expiry was ignored.
      assert.ok(askedAt < staleAt + 250, `still cached ${askedAt - aliceFilledAt} ms after it was filled`);
      cacheAnswers++;
      await sleep(200);
    }
    assert.equal((await askAlice()).source, 'cache', 'the re-read is cached again');
  });

  it('4. clearing Cache User Status hides Cache Expiry; user-status stops caching', async () => {
    assert.equal(await page.getByLabel('Cache Expiry', { exact: true }).isVisible(), true);
    await page.getByLabel('Cache User Status', { exact: true }).uncheck();
    assert.equal(await page.getByLabel('Cache Expiry', { exact: true }).isVisible(), false);
    assert.equal(await page.locator('#row-cacheExpirySeconds').isHidden(), true);
    await page.click('#save');
    await waitForSaved();
    await waitFor(
      async () => {
        const r = await readiness();
        return !r.policy.cacheUserStatus && r.redis.state === 'bypassed';
      },
      { what: 'user-status bypassing its cache' },
    );
    const stored = await storedDefault();
    assert.equal(stored.settings.activeDirectory.cacheUserStatus, false);
    // After the reload from the server the field is still hidden.
    await waitFor(async () => !(await page.getByLabel('Cache User Status', { exact: true }).isChecked()));
    assert.equal(await page.getByLabel('Cache Expiry', { exact: true }).isVisible(), false);
    const answers = [await askAlice(), await askAlice()];
    assert.deepEqual(
      answers.map((a) => a.source),
      ['directory', 'directory'],
    );
    await consoleScreenshot(page, '03-cache-user-status-cleared');
  });

  it("5. suspending alice's band in Enrollments refuses its next tap (band_suspended)", async (t) => {
    await goTo('Enrollments');
    await waitForText(page, enrollmentState(), /^active$/);
    assert.equal((await tapAlice())?.reason, 'no_listener');
    await page.click(`[id="suspend-${demo.bandIds.alice}"]`);
    // Nothing happens before the confirmation.
    await waitForText(page, '#confirm-title', /^Suspend band /);
    assert.equal((await tapAlice())?.reason, 'no_listener');
    await noSeriousA11yViolations('the suspend confirmation');
    await confirmDialog(/^Suspend band /);
    await waitForText(page, enrollmentState(), /^suspended$/);
    const refused = await tapAlice();
    assert.equal(refused?.outcome, 'refused');
    assert.equal(refused?.reason, 'band_suspended');
    assert.ok(await fitsWidth(page), 'the Enrollments page scrolls sideways at 1366x768');
    await noSeriousA11yViolations('Enrollments');
    await consoleScreenshot(page, '04-enrollments-suspended');

    await page.click(`[id="reactivate-${demo.bandIds.alice}"]`);
    await waitForText(page, enrollmentState(), /^active$/);
    const startedAt = Date.now();
    await waitFor(async () => (await tapAlice())?.reason === 'no_listener', {
      timeoutMs: POLICY_CHANGE_BUDGET_MS,
      what: 'the reactivated band accepted again',
    });
    t.diagnostic(`reactivation reached the gateway within ${Date.now() - startedAt} ms`);
  });

  it('6. refuses alice, who is outside the admin group, with a clear message', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await waitForText(page, '#login-error', /^Logged out\.$/);
    await page.fill('#username', 'alice');
    await page.fill('#password', admin.password); // the seeded users' password: a correct bind
    await page.click('#login-submit');
    await waitForText(page, '#login-error', /^this account may not administer Tapgate$/);
    assert.equal(await page.locator('#nav').isHidden(), true);
    assert.equal(await page.evaluate(() => fetch('/v1/auth/me').then((r) => r.status)), 401);
    await consoleScreenshot(page, '05-alice-refused');
  });

  it('7. the login and policy forms work with the keyboard alone at 1366x768', async () => {
    await page.goto(consoleUrl());
    await waitFor(async () => (await focused(page)) === '#username', { what: 'focus on the user name' });
    await page.keyboard.type(admin.sAMAccountName);
    await page.keyboard.press('Tab');
    await page.keyboard.type(admin.password);
    await page.keyboard.press('Enter');
    await waitForText(page, '#whoami', /^tgadmin \(admin\)$/);
    await waitForText(page, '#main h2', /^Policies$/);

    await tabTo(page, 'a:Default group policy');
    await page.keyboard.press('Enter');
    await waitForText(page, '#main h2', /^Policy: Default group policy$/);
    await tabTo(page, '#cacheUserStatus');
    await page.keyboard.press('Space'); // a checkbox toggles with Space; Enter submits the form
    assert.equal(await page.getByLabel('Cache Expiry', { exact: true }).isVisible(), true);
    // Cache Expiry was not set by this policy: its value is the inherited one, editable once overridden.
    assert.equal(await page.isDisabled('#cacheExpirySeconds'), true);
    await tabTo(page, '#ovr-cacheExpirySeconds', 1);
    await page.keyboard.press('Space');
    await tabTo(page, '#cacheExpirySeconds', 1);
    // Arrow keys change a closed select; the first choice is 30 seconds.
    for (let i = 0; i < 15 && (await page.inputValue('#cacheExpirySeconds')) !== '30'; i++) {
      await page.keyboard.press('ArrowUp');
    }
    assert.equal(await page.inputValue('#cacheExpirySeconds'), '30');
    await tabTo(page, '#save');
    await page.keyboard.press('Enter');
    await waitForSaved();
    const ad = (await storedDefault()).settings.activeDirectory;
    assert.deepEqual([ad.cacheUserStatus, ad.cacheExpirySeconds], [true, 30]);
    await waitFor(async () => (await readiness()).policy.cacheUserStatus, {
      what: 'user-status caching again',
    });
    await consoleScreenshot(page, '06-keyboard-policy-saved');
  });

  it('shows the Terminals page (endpoint online, last tap) and the Audit page (policy changes, refused login)', async () => {
    await goTo('Terminals');
    const row = `[id="term-${TERMINAL}"]`;
    await waitForText(page, `${row} .connection`, /^online since .+ \(.+, .+\)$/);
    // The reactivated band's tap, as the gateway announced it (no NEA listens, so nobody is logged in).
    await waitForText(page, `${row} .last-tap`, /nfc (alice|band [\w-]+): refused \(no_listener\)$/m);
    assert.ok(await fitsWidth(page), 'the Terminals page scrolls sideways at 1366x768');
    await noSeriousA11yViolations('Terminals');
    await consoleScreenshot(page, '07-terminals');

    await goTo('Audit');
    await page.getByRole('tab', { name: 'Administrator changes' }).click();
    await waitForText(page, '#audit-status', /^records 1-\d+/);
    const all = await page.locator('#audit tbody').innerText();
    assert.match(all, /tgadmin \(session\)\s+policy\.update\s+policy default/);
    // A change reads as the fields it changed, newest first: the last save set cacheExpirySeconds to 30.
    assert.match(
      await page.locator('#audit tbody tr').first().innerText(),
      /policy\.update[\s\S]*activeDirectory\.cacheExpirySeconds: .* → 30/,
    );
    await noSeriousA11yViolations('Audit, administrator changes');
    await page.getByRole('textbox', { name: 'Administrator' }).fill('alice');
    await waitFor(async () => !(await page.locator('#audit tbody').innerText()).includes('policy.update'), {
      what: 'the changes of administrator "alice" only',
    });
    const alice = await page.locator('#audit tbody').innerText();
    assert.match(alice, /alice \(session\)\s+admin\.login_failed/);
    assert.doesNotMatch(alice, /policy\.update/);
    await consoleScreenshot(page, '08-audit-alice');
    assert.deepEqual(browser.pageErrors, []);
  });

  it('manages an application: register (credential shown once), bind with it, disable closes the socket, rotate, delete', async () => {
    await goTo('Applications');
    await page.getByLabel('Application id').fill('line-mes');
    await page.getByLabel('Display name').fill('MES on the console line');
    await page.getByLabel('Terminals (ids or patterns such as LINE1-*)').fill('CONSOLE-*');
    await page.getByRole('button', { name: 'Register application' }).click();
    const credential = (await waitForText(page, '#app-credential-out pre', /^[A-Za-z0-9_-]{43}$/)).trim();
    const row = '[id="app-line-mes"]';
    await waitForText(page, `${row} .state`, /^enabled$/);
    await consoleScreenshot(page, '09-applications');

    // The application binds to the terminal with the credential the page showed, from outside.
    const socket = new WebSocket(`ws://127.0.0.1:${platform.ports.webapi}/`);
    const frames: Array<{ type: string }> = [];
    let closedWith: number | undefined;
    socket.onmessage = (ev) => frames.push(JSON.parse(String(ev.data)) as { type: string });
    socket.onclose = (ev) => (closedWith = ev.code);
    await new Promise((resolve) => (socket.onopen = resolve));
    socket.send(
      JSON.stringify({ v: 1, type: 'hello', data: { role: 'nea', terminalId: TERMINAL, credential } }),
    );
    await waitFor(() => frames.some((f) => f.type === 'welcome'), { what: 'welcome with the credential' });

    await page.locator(row).getByRole('button', { name: 'Disable' }).click();
    await confirmDialog(/^Disable line-mes\?$/);
    const disabledAt = Date.now();
    await waitForText(page, `${row} .state`, /^disabled$/);
    await waitFor(() => closedWith !== undefined, { what: 'socket closed by the disable', timeoutMs: 2000 });
    assert.equal(closedWith, 4001);
    assert.ok(Date.now() - disabledAt < 2000);
    await page.locator(row).getByRole('button', { name: 'Enable' }).click();
    await waitForText(page, `${row} .state`, /^enabled$/);

    // Rotation: a second credential, then the first one revoked.
    const firstIntro = await page.locator('#app-credential-out p').innerText();
    await page.locator(row).getByRole('button', { name: 'New credential' }).click();
    // The page names the new credential (not the first one) and lists both.
    await waitFor(async () => (await page.locator('#app-credential-out p').innerText()) !== firstIntro, {
      what: 'the second credential shown',
    });
    assert.match(await page.locator('#app-credential-out p').innerText(), /^Credential \S+ of line-mes/);
    await waitFor(async () => (await page.locator(`${row} .credentials button`).count()) === 2, {
      what: 'both credentials listed',
    });
    await page.locator(`${row} .credentials button`).first().click();
    await confirmDialog(/^Revoke credential \S+ of line-mes\?$/);
    await waitFor(async () => (await page.locator(`${row} .credentials button`).count()) === 1, {
      what: 'first credential revoked',
    });
    const stored = await platform.api<{ credentials: unknown[] }>('GET', '/v1/applications/line-mes');
    assert.equal(stored.credentials.length, 1);

    await noSeriousA11yViolations('Applications');
    await page.locator(row).getByRole('button', { name: 'Delete' }).click();
    await confirmDialog(/^Delete line-mes\?$/);
    await waitFor(async () => (await page.locator(row).count()) === 0, { what: 'application deleted' });
    assert.ok(await fitsWidth(page), 'the Applications page scrolls sideways at 1366x768');
    assert.deepEqual(browser.pageErrors, []);
  });

  it('flags an enrollment whose account was renamed or whose name was re-used, and fixes it', async () => {
    const publicKey = () =>
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    const renamedDn = await samba.createUser('con-ren', { displayName: 'Connie Renamed' });
    await samba.createUser('con-del', { displayName: 'Dora First' });
    for (const [bandId, user] of [
      ['CON-REN', 'con-ren'],
      ['CON-DEL', 'con-del'],
    ]) {
      await platform.api('POST', '/v1/enrollments', {
        bandId,
        user: { sAMAccountName: user },
        publicKey: publicKey(),
      });
    }
    const movedDn = await samba.renameCn(renamedDn, 'Connie Moved');
    await samba.deleteUser('con-del');
    await samba.createUser('con-del', { displayName: 'Dora Second' });
    for (const user of ['con-ren', 'con-del']) {
      await messaging.request(UserStatusInvalidate, { v: 1, user: { sAMAccountName: user } });
    }
    await page.goto(`${consoleUrl()}#enrollments`);
    await waitForText(page, '#main h2', /^Enrollments$/);
    await waitForText(
      page,
      '[id="binding-CON-REN"]',
      new RegExp(`^renamed: now con-ren \\(${movedDn}\\) Update$`),
    );
    await waitForText(page, '[id="binding-CON-DEL"]', /^name now belongs to another account; taps refused/);
    await noSeriousA11yViolations('Enrollments with binding fixes');
    await consoleScreenshot(page, '09-enrollments-binding');
    await page.click('[id="update-binding-CON-REN"]');
    await waitForText(page, '[id="binding-CON-REN"]', /^bound$/);
    assert.equal(
      (await platform.api<{ user: { dn: string } }>('GET', '/v1/enrollments/CON-REN')).user.dn,
      movedDn,
    );
    await page.click('[id="reenroll-CON-DEL"]');
    await waitForText(page, '[id="binding-CON-DEL"]', /^bound$/);
    const rebound = await platform.api<{ user: { displayName?: string } }>('GET', '/v1/enrollments/CON-DEL');
    assert.equal(rebound.user.displayName, 'Dora Second');
    assert.deepEqual(browser.pageErrors, []);
  });

  it('a new default policy form shows what the services run with; saving it as shown changes nothing', async () => {
    await platform.api('DELETE', '/v1/policies/default');
    const before = await platform.api<{ settings: PolicySettings }>(
      'GET',
      '/v1/policies/effective?user=alice',
    );
    // The gateway runs with [gateway] require_presence = true (its default): the form must say so.
    assert.equal(before.settings.tap.requirePresence, true);
    await goTo('Policies');
    await page.click('#create-default');
    await waitForText(page, '#main h2', /^New default policy$/);
    for (const [id, value] of Object.entries({
      requirePresence: before.settings.tap.requirePresence,
      allowUidTaps: before.settings.tap.allowUidTaps,
      allowBleTaps: before.settings.tap.allowBleTaps,
      checkUserStatus: before.settings.activeDirectory.checkUserStatus,
      cacheUserStatus: before.settings.activeDirectory.cacheUserStatus,
    })) {
      assert.equal(await page.isChecked(`#${id}`), value, id);
    }
    assert.equal(
      await page.inputValue('#cacheExpirySeconds'),
      String(before.settings.activeDirectory.cacheExpirySeconds),
    );
    assert.match(await page.locator('#row-requirePresence').innerText(), /\[gateway\] require_presence/);
    await page.click('#save');
    await waitForText(page, '#toast', /^Saved Default group policy \(revision \d+\)$/);
    assert.deepEqual((await storedDefault()).settings, {});
    const after = await platform.api<{ settings: PolicySettings }>(
      'GET',
      '/v1/policies/effective?user=alice',
    );
    assert.deepEqual(after.settings, before.settings);
    assert.deepEqual(browser.pageErrors, []);
  });
  it('enrolls a band from the JWK that `band new` prints, and shows a bad key under its field', async () => {
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    await goTo('Enrollments');
    await page.getByLabel('Band id').fill('CON-JWK');
    await page.getByLabel('User (sAMAccountName)').fill('con-ren');
    await page.getByLabel(/^Public key/).fill('not a key');
    await page.getByRole('button', { name: 'Enroll', exact: true }).click();
    await waitForText(page, '#err-publicKey', /\S/);
    await page.getByLabel(/^Public key/).fill(JSON.stringify(jwk, null, 2));
    await page.getByRole('button', { name: 'Enroll', exact: true }).click();
    await waitForText(page, '[id="enr-CON-JWK"] .state', /^active$/);
    await waitForText(page, '#toast', /^Enrolled CON-JWK$/);
    assert.equal(
      (await platform.api<{ user: { sAMAccountName: string } }>('GET', '/v1/enrollments/CON-JWK')).user
        .sAMAccountName,
      'con-ren',
    );
    assert.deepEqual(browser.pageErrors, []);
  });

  it('a group policy sends only the overridden fields, shows API errors by field, and is deleted after confirmation', async () => {
    await goTo('Policies');
    await page.getByRole('link', { name: 'New group policy' }).click();
    await waitForText(page, '#main h2', /^New group policy$/);
    const inherited = await platform.api<{ inherited: { settings: PolicySettings } }>(
      'GET',
      '/v1/policies/inherited',
    );
    // Not overridden: the inherited value, read-only, with where it comes from.
    assert.equal(await page.isDisabled('#allowUidTaps'), true);
    assert.equal(await page.isChecked('#allowUidTaps'), inherited.inherited.settings.tap.allowUidTaps);
    assert.match(await page.locator('#row-allowUidTaps').innerText(), /inherits (true|false) from/);
    await noSeriousA11yViolations('a new group policy');
    await page.fill('#policyId', 'line1');
    await page.fill('#name', 'Line 1 operators');
    await page.fill('#group', ADMIN_GROUP);
    await page.fill('#priority', 'high');
    await page.click('#ovr-allowUidTaps');
    await page
      .getByLabel('Allow UID badge taps', { exact: true })
      .setChecked(!inherited.inherited.settings.tap.allowUidTaps);
    await page.fill('#name', '');
    await page.click('#save');
    // The API's validation: every problem at once, each under the field it names.
    await waitForText(page, '#err-priority', /^must be a number$/);
    await waitForText(page, '#err-name', /^must not be empty$/);
    await consoleScreenshot(page, '10-group-policy-field-error');
    await page.fill('#name', 'Line 1 operators');
    await page.fill('#priority', '5');
    await page.click('#save');
    await waitForText(page, '#toast', /^Saved Line 1 operators \(revision \d+\)$/);
    await waitForText(page, '#main h2', /^Policy: Line 1 operators$/);
    const stored = await platform.api<{ settings: unknown; priority: number }>('GET', '/v1/policies/line1');
    assert.deepEqual(stored.settings, {
      tap: { allowUidTaps: !inherited.inherited.settings.tap.allowUidTaps },
    });
    assert.equal(stored.priority, 5);
    // The policy's own history: change 1 is its creation, with what it set.
    await waitForText(page, '#policy-history tbody', /policy\.create/);
    assert.match(
      await page.locator('#policy-history tbody tr').first().innerText(),
      /^1\s[\s\S]*policy\.create[\s\S]*tap\.allowUidTaps: — → (true|false)/,
    );

    await page.click('#delete-policy');
    await waitForText(page, '#confirm-title', /^Delete Line 1 operators\?$/);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await platform.api('GET', '/v1/policies/line1'); // still there after Cancel
    await page.click('#delete-policy');
    await confirmDialog(/^Delete Line 1 operators\?$/);
    await waitForText(page, '#main h2', /^Policies$/);
    await waitFor(async () => !(await page.locator('#policies').innerText()).includes('Line 1 operators'), {
      what: 'the deleted policy gone from the list',
    });
    assert.deepEqual(browser.pageErrors, []);
  });

  it('disabling a terminal after confirmation closes its endpoint connection', async () => {
    await goTo('Terminals');
    const row = `[id="term-${TERMINAL}"]`;
    await waitForText(page, `${row} .connection`, /^online since /);
    await page.locator(row).getByRole('button', { name: 'Disable' }).click();
    await confirmDialog(new RegExp(`^Disable ${TERMINAL}\\?$`));
    await waitForText(page, `${row} .state`, /^disabled/);
    await waitForText(page, `${row} .connection`, /^offline since /, 10_000);
    await consoleScreenshot(page, '11-terminal-disabled');
    await page.locator(row).getByRole('button', { name: 'Enable' }).click();
    await confirmDialog(new RegExp(`^Enable ${TERMINAL}\\?$`));
    await waitForText(page, `${row} .state`, /^enabled/);
    assert.deepEqual(browser.pageErrors, []);
  });
});
