import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { AuditTrail, appendSampleRecords, sampleDecision } from '@tapgate/audit';
import { launchChromium, waitForText, type Browser } from '@tapgate/browser-tests';
import { AUDIT_SUBJECT } from '@tapgate/contracts';
import { connectMessaging, type Messaging } from '@tapgate/messaging';
import { startPolicy, type PolicyHarness } from '@tapgate/policy';
import { startNats, type TestServer } from '@tapgate/testing';
import type { Page } from 'playwright-core';
import { join } from 'node:path';
import { CONSOLE_ARTIFACTS, VIEWPORT, axeViolations, fitsWidth } from './console-page';

const RECORDS = 12_000;

/**
 * The console's Audit page exports and verifies the decision trail. The console is reached with the
 * policy service's break-glass token typed on the login page (no directory needed); the AD login is tested
 * in console.browser.test.ts.
 */
describe('console Audit page: export (CSV, JSON) and verify of the decision trail', () => {
  let nats: TestServer;
  let messaging: Messaging;
  let trail: AuditTrail;
  let policy: PolicyHarness;
  let browser: Browser;
  let page: Page;

  before(async () => {
    browser = await launchChromium();
    nats = await startNats();
    messaging = connectMessaging({ servers: [nats.url], name: 'console-audit-test' });
    trail = new AuditTrail(messaging);
    await trail.ensureStream();
    await appendSampleRecords(messaging, trail, RECORDS, (i) =>
      sampleDecision({
        tapId: `console-${i}`,
        ...(i % 7 === 0 ? { outcome: 'refused', reason: 'user_not_active' } : {}),
      }),
    );
    policy = await startPolicy(nats.url);
    page = await browser.context.newPage();
    await page.setViewportSize(VIEWPORT);
    // The break-glass token, typed on the login page, is exchanged for a session (POST /v1/auth/token-login).
    await page.goto(`${policy.url}/console/#/audit`);
    await page.check('#secret-token');
    await page.fill('#break-glass-token', 'not-the-token');
    await page.click('#token-submit');
    await waitForText(page, '#login-error', /^wrong break-glass token$/);
    await page.fill('#break-glass-token', policy.token);
    await page.click('#token-submit');
    await waitForText(page, '#whoami', /\(admin\)$/);
    await waitForText(page, '#main h2', /^Audit$/);
    await waitForText(page, '#audit-status', /records/, 60_000);
  });

  after(async () => {
    await page?.close().catch(() => undefined);
    await browser?.close();
    await policy?.close();
    await trail?.close();
    await messaging?.close();
    await nats?.dispose();
  });

  it(`shows the decisions newest first, 50 a page, and downloads all ${RECORDS} of them as CSV`, async (t) => {
    await waitForText(page, '#audit-status', new RegExp(`^${RECORDS} records$`));
    assert.equal(await page.locator('#audit tbody tr').count(), 50);
    const columns = await page.locator('#audit thead th').allInnerTexts();
    assert.deepEqual(columns, [
      'Time',
      'Kind',
      'Terminal',
      'User',
      'Outcome',
      'Reason',
      'E-signature meaning',
      'Signer',
      'Sequence',
    ]);
    // Newest first: the last record appended (sequence RECORDS) heads the first page.
    assert.match(await page.locator('#audit tbody tr').first().innerText(), new RegExp(`#${RECORDS}$`));
    // A record refused for user_not_active shows its reason in the Reason column.
    assert.match(await page.locator('#audit tbody').innerText(), /refused\s+user_not_active/);
    await page
      .getByRole('button', { name: /next page/i })
      .first()
      .click();
    assert.match(await page.locator('#audit tbody tr').first().innerText(), new RegExp(`#${RECORDS - 50}$`));
    assert.deepEqual(await axeViolations(page), []);
    // The check can fail: an image without a text alternative is a critical violation.
    await page.evaluate("document.body.appendChild(document.createElement('img')).id = 'no-alt'");
    assert.match((await axeViolations(page)).join('\n'), /critical image-alt/);
    await page.evaluate("document.getElementById('no-alt').remove()");
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 60_000 }),
      page.getByRole('button', { name: 'Export CSV' }).click(),
    ]);
    const file = await download.path();
    assert.ok(file, 'the download was saved');
    assert.match(download.suggestedFilename(), /^tapgate-audit-.+\.csv$/);
    const lines = readFileSync(file, 'utf8').split('\r\n');
    assert.match(lines[0], /^seq,at,kind,outcome,/);
    assert.equal(lines.length, RECORDS + 2, 'header, every record, and the empty string after the last CRLF');
    assert.equal(new Set(lines.slice(1, -1).map((l) => l.slice(0, l.indexOf(',')))).size, RECORDS);
    const said = await waitForText(
      page,
      '#audit-result',
      new RegExp(
        `${RECORDS} records exported; the trail holds ${RECORDS} records; nothing missing or unreadable\\.$`,
      ),
    );
    t.diagnostic(said);
    assert.ok(await fitsWidth(page), 'the Audit page scrolls sideways at 1366x768');
    await page.screenshot({ path: join(CONSOLE_ARTIFACTS, 'audit-export-csv.png') }); // the window, not 500 rows
  });

  it('downloads JSON: every record exactly as hashed, with its sequence', async () => {
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 60_000 }),
      page.getByRole('button', { name: 'Export JSON' }).click(),
    ]);
    const entries = JSON.parse(readFileSync(await download.path(), 'utf8')) as Array<{ seq: number }>;
    assert.equal(entries.length, RECORDS);
    assert.deepEqual(
      entries.map((e) => e.seq),
      Array.from({ length: RECORDS }, (_, i) => i + 1),
    );
  });

  it('the Dashboard counts the last hour: decisions per minute, refusals by reason, service health', async () => {
    const dash = page;
    await dash.evaluate("location.hash = '#/dashboard'");
    await waitForText(dash, '#main h2', /^Dashboard$/);
    await waitForText(
      dash,
      '#per-minute',
      new RegExp(`${RECORDS} decisions \\(logins and e-signatures\\)`),
      60_000,
    );
    // Every 7th sample was refused as user_not_active: 1715 of 12000.
    const refused = Math.ceil(RECORDS / 7);
    assert.match(
      await dash.locator('#refusals tbody').innerText(),
      new RegExp(`^user_not_active\\s+${refused}$`),
    );
    await waitForText(dash, '#health', /policy: ready \(NATS connected\)/);
    assert.deepEqual(await axeViolations(dash), []);
    await dash.screenshot({ path: join(CONSOLE_ARTIFACTS, 'dashboard.png') });
    await dash.evaluate("location.hash = '#/audit'");
    await waitForText(page, '#audit-status', new RegExp(`^${RECORDS} records$`), 60_000);
  });

  it('verifies the chain, and names the sequence once a forged record breaks it', async () => {
    await page.getByRole('button', { name: 'Verify chain' }).click();
    await waitForText(
      page,
      '#audit-result',
      new RegExp(
        `^Chain intact: ${RECORDS} records verified \\(sequences 1-${RECORDS}\\); head hash [0-9a-f]{64}$`,
      ),
      60_000,
    );
    // Someone with publish rights appends a record that does not link to the chain.
    const forged = {
      ...sampleDecision({ user: { sAMAccountName: 'mallory' } }),
      prevHash: '0'.repeat(64),
      hash: 'f'.repeat(64),
    };
    await (await messaging.connection()).jetstream().publish(AUDIT_SUBJECT, JSON.stringify(forged));
    await page.getByRole('button', { name: 'Verify chain' }).click();
    await waitForText(
      page,
      '#audit-result',
      new RegExp(
        `^Chain BROKEN at sequence ${RECORDS + 1}: hash_mismatch .*; ${RECORDS} records verified before it$`,
      ),
      60_000,
    );
    assert.match((await page.locator('#audit-result').getAttribute('class')) ?? '', /\berr\b/);
    await page.screenshot({ path: join(CONSOLE_ARTIFACTS, 'audit-verify-broken.png') });
    assert.deepEqual(browser.pageErrors, []);
  });
});
