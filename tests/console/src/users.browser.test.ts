import { AuditTrail, sampleDecision } from '@tapgate/audit';
import { launchChromium, waitForText, type Browser } from '@tapgate/browser-tests';
import { Messaging } from '@tapgate/messaging';
import { Platform, startSambaAd, type SambaAd } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { VIEWPORT, axeViolations, consoleScreenshot, fitsWidth } from './console-page';
import { createConsoleAdmin, type ConsoleAdmin } from './directory-admins';

const ADMIN_GROUP = 'Tapgate Users Page Admins';
const BAND = 'USERS-PAGE-B1';
const SIGNATURE_MEANING = 'Approved batch 42 release';

/**
 * The Users page (directory search; a user's directory entry, AD status with evidence and age, bands,
 * effective policy, recent taps and e-signatures) and the Policies page's warnings, per-policy revisions
 * and revision diff, in Chromium against the real services and a real Samba AD.
 */
describe('console Users page and policy revisions (Chromium, real services, Samba AD)', () => {
  let samba: SambaAd;
  let admin: ConsoleAdmin;
  let platform: Platform;
  let messaging: Messaging;
  let browser: Browser;
  let page: Page;
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-console-users-'));

  const goTo = async (section: string) => {
    await page.locator('#nav').getByRole('link', { name: section }).click();
    await waitForText(page, '#main h2', new RegExp(`^${section}$`));
  };
  const noSeriousA11yViolations = async (what: string) =>
    assert.deepEqual(await axeViolations(page), [], `axe on ${what}`);

  before(async () => {
    browser = await launchChromium();
    samba = await startSambaAd();
    admin = await createConsoleAdmin(samba, ADMIN_GROUP, 'tgusersadm');
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
    });
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    await platform.api('POST', '/v1/enrollments', {
      bandId: BAND,
      user: { sAMAccountName: 'alice' },
      publicKey: jwk,
    });
    // Two decisions about alice through the trail's own append (what the gateways call): a login and
    // a first signature with its meaning.
    messaging = new Messaging({ servers: [platform.nats.url], name: 'console-users-test' });
    const trail = new AuditTrail(messaging);
    await trail.ensureStream();
    await trail.append(sampleDecision({ terminalId: 'USERS-T1' }));
    await trail.append(
      sampleDecision({
        kind: 'esign',
        terminalId: 'USERS-T1',
        ceremonyId: 'ceremony-users-1',
        esignReason: SIGNATURE_MEANING,
        signer: 1,
      }),
    );
    await trail.close();
    page = await browser.context.newPage();
    await page.setViewportSize(VIEWPORT);
    await page.goto(`http://127.0.0.1:${platform.ports.policyHttp}/console/`);
    await page.fill('#username', admin.sAMAccountName);
    await page.fill('#password', admin.password);
    await page.click('#login-submit');
    await waitForText(page, '#whoami', /^tgusersadm \(admin\)$/);
  });

  after(async () => {
    await page?.close().catch(() => undefined);
    await browser?.close();
    await messaging?.close();
    await platform?.stop();
    await samba?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('searches the directory by the start of a name, display name or e-mail', async () => {
    await goTo('Users');
    await page.fill('#user-q', 'ali');
    await page.click('#user-search');
    await waitForText(page, '#users tbody', /alice/);
    const row = await page.locator('#users tbody tr', { hasText: 'alice' }).innerText();
    assert.match(row, /alice\s+Alice[^\n]*\s+enabled/);
    // A disabled account says so (bob is seeded disabled).
    await page.fill('#user-q', 'bob');
    await page.click('#user-search');
    await waitForText(page, '#users tbody', /bob[\s\S]*disabled/);
    await page.fill('#user-q', 'zz-nobody');
    await page.click('#user-search');
    await waitForText(
      page,
      '#users tbody',
      /No user's name, display name or e-mail starts with "zz-nobody"\./,
    );
    await page.fill('#user-q', 'ali');
    await page.click('#user-search');
    await waitForText(page, '#users tbody', /alice/);
    assert.ok(await fitsWidth(page), 'the Users page scrolls sideways at 1366x768');
    await noSeriousA11yViolations('Users search');
    await consoleScreenshot(page, 'users-search');
  });

  it("shows a user's directory entry, AD status with evidence and age, bands, effective policy and signatures", async () => {
    await page.getByRole('link', { name: 'alice', exact: true }).click();
    await waitForText(page, '#main h2', /^User alice$/);
    await waitForText(page, '#user-directory', /Account\s*enabled/);
    assert.match(await page.locator('#user-groups').innerText(), /CN=Domain Users,/);
    // user-status's own answer: its status, where it was read and how long ago, and its evidence.
    const status = await page.locator('#user-status').innerText();
    assert.match(status, /Status\s*active/);
    assert.match(status, /Directory read\s*.+\(\d+ s ago\)/);
    assert.ok((await page.locator('#user-evidence tbody tr').count()) > 0, 'no evidence rows');
    await waitForText(page, '#user-bands', new RegExp(`${BAND}active`));
    const effective = await page.locator('#user-effective').innerText();
    assert.match(effective, /activeDirectory\.checkUserStatus/);
    const activity = await page.locator('#user-activity tbody').innerText();
    assert.match(
      activity,
      new RegExp(`e-signature \\(signer 1\\)\\s+granted\\s+USERS-T1\\s+${SIGNATURE_MEANING}`),
    );
    assert.match(activity, /login\s+granted\s+USERS-T1/);
    // Newest first: the signature was appended after the login.
    assert.match(await page.locator('#user-activity tbody tr').first().innerText(), /e-signature/);
    assert.ok(await fitsWidth(page), 'the user page scrolls sideways at 1366x768');
    await noSeriousA11yViolations('a user');
    await consoleScreenshot(page, 'users-alice-details');
    assert.deepEqual(browser.pageErrors, []);
  });

  it("warns about an unknown group on save, numbers the policy's own revisions and shows a diff of two", async () => {
    await goTo('Policies');
    await page.getByRole('link', { name: 'New group policy' }).click();
    await waitForText(page, '#main h2', /^New group policy$/);
    // Expiry choices read in the singular where they should.
    await page.click('#ovr-cacheExpirySeconds');
    const choices = await page.locator('#cacheExpirySeconds option').allTextContents();
    assert.ok(choices.includes('1 minute') && choices.includes('1 hour'), choices.join(', '));
    assert.ok(!choices.some((c) => /^1 (minutes|hours)$/.test(c)), choices.join(', '));
    await page.click('#ovr-cacheExpirySeconds');
    await page.fill('#policyId', 'night-shift');
    await page.fill('#name', 'Night shift');
    await page.fill('#group', 'No Such Night Shift');
    await page.click('#ovr-allowUidTaps');
    // The API's validation, every problem at once under its own field, a setting's included.
    await page.click('#ovr-ceremonyTimeoutSeconds');
    await page.fill('#ceremonyTimeoutSeconds', '5');
    await page.fill('#name', '');
    await page.click('#save');
    await waitForText(page, '#err-name', /^must not be empty$/);
    await waitForText(page, '#help-ceremonyTimeoutSeconds', /^must be at least 10\b/);
    await page.fill('#name', 'Night shift');
    await page.click('#ovr-ceremonyTimeoutSeconds');
    await page.click('#save');
    await waitForText(page, '#main h2', /^Policy: Night shift$/);
    await waitForText(page, '#toast', /^Saved Night shift \(revision 1\)$/);
    await waitForText(page, '#save-warnings', /group: the directory has no group "No Such Night Shift"/);
    await noSeriousA11yViolations('a saved policy with a warning');
    await consoleScreenshot(page, 'policies-unknown-group-warning');

    await page.fill('#group', ADMIN_GROUP);
    await page.fill('#name', 'Night shift operators');
    await page.click('#save');
    await waitForText(page, '#toast', /^Saved Night shift operators \(revision 2\)$/);
    assert.equal(await page.locator('#save-warnings').count(), 0, 'a known group gets no warning');
    await waitForText(page, '#policy-history tbody', /policy\.update/);
    const revisions = await page.locator('#policy-history tbody tr').allInnerTexts();
    assert.deepEqual(
      revisions.map((r) => /^(\d+)\s[\s\S]*(policy\.\w+)/.exec(r)?.slice(1).join(' ')),
      ['2 policy.update', '1 policy.create'],
    );
    // The diff view: revision 1 against 2 by default; what changed, field by field.
    const diff = await page.locator('#revision-diff').innerText();
    assert.match(diff, /name: Night shift → Night shift operators/);
    assert.match(diff, /group: No Such Night Shift → Tapgate Users Page Admins/);
    await page.selectOption('#diff-from', '2');
    await waitForText(page, '#revision-diff', /Revisions 2 and 2 do not differ\./);
    await page.selectOption('#diff-from', '1');
    await noSeriousA11yViolations('the revision diff');
    await page.locator('#revision-diff').scrollIntoViewIfNeeded();
    await consoleScreenshot(page, 'policies-revision-diff');

    // Nothing is dropped silently: an overridden expiry hidden by turning caching off says it goes.
    await page.click('#ovr-cacheExpirySeconds');
    await page.getByLabel('Cache Expiry', { exact: true }).selectOption({ label: '1 minute' });
    await page.click('#ovr-cacheUserStatus');
    await page.getByLabel('Cache User Status', { exact: true }).setChecked(false);
    await waitForText(
      page,
      '#dropped-cacheExpirySeconds',
      /^Cache Expiry \(1 minute\) is removed from this policy when it is saved/,
    );

    // The list shows each policy's own number, not the KV revision shared by all policies.
    await goTo('Policies');
    await waitForText(page, '#policies', /Night shift operators/);
    const row = await page.locator('#policies tbody tr', { hasText: 'Night shift operators' }).innerText();
    assert.match(row, /group\s+Tapgate Users Page Admins\s+active\s+2\s/);
    // A user policy's user opens that user's page.
    await platform.api('POST', '/v1/policies', {
      policyId: 'alice-own',
      kind: 'user',
      name: "Alice's own",
      user: 'alice',
      settings: { esign: { ceremonyTimeoutSeconds: 90 } },
    });
    await goTo('Users');
    await goTo('Policies');
    await page.locator('#policies').getByRole('link', { name: 'alice', exact: true }).click();
    await waitForText(page, '#main h2', /^User alice$/);
    await waitForText(page, '#user-effective', /ceremonyTimeoutSeconds90user policy Alice's own/);
    assert.deepEqual(browser.pageErrors, []);
  });
});
