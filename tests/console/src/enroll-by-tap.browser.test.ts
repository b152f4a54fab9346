import { launchChromium, waitForText, type Browser } from '@tapgate/browser-tests';
import { NEW_BAND_LABEL, startDemo, type RunningDemo } from '@tapgate/demo';
import { Platform, freePort, waitFor } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { VIEWPORT, axeViolations, consoleScreenshot, fitsWidth } from './console-page';

const TERMINAL = 'ENROLL-T1';
const NEW_BAND = NEW_BAND_LABEL;

/**
 * The administrator enrolls the demo's new software band by tap at the demo terminal and a UID badge by its
 * UID, in Chromium, against every service as its own process; then the new band's tap logs carol in on the
 * demo's POMSnet page.
 */
describe('console: enroll by tap and UID badge enrollment in Chromium', () => {
  let platform: Platform;
  let demo: RunningDemo;
  let browser: Browser;
  let page: Page;
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-enroll-console-'));

  before(async () => {
    browser = await launchChromium();
    platform = await Platform.start({
      dir,
      logLevel: 'warn',
      users: [
        { sAMAccountName: 'alice', displayName: 'Alice Able', state: 'active' },
        { sAMAccountName: 'carol', displayName: 'Carol Clark', state: 'active' },
      ],
    });
    demo = await startDemo(platform, {
      dir,
      terminalId: TERMINAL,
      pagePort: 0,
      controlPort: await freePort(),
      audience: 'enroll-browser-test',
      bands: [{ user: 'alice', authenticated: true }],
      newBand: true,
    });
    page = await browser.context.newPage();
    await page.setViewportSize(VIEWPORT);
  });

  after(async () => {
    await page?.close().catch(() => undefined);
    await browser?.close();
    await demo?.stop();
    await platform?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('enrolls the new band by tap at the demo terminal; the console shows it live', async () => {
    const newBand = demo.newBandId!;
    await page.goto(`${platform.policyUrl}/console/`);
    await page.check('#secret-token');
    await page.fill('#break-glass-token', platform.adminToken);
    await page.click('#token-submit');
    await waitForText(page, '#whoami', /\(admin\)$/);
    await page.locator('#nav').getByRole('link', { name: 'Enrollments' }).click();
    await waitForText(page, '#main h2', /^Enrollments$/);

    // A user the directory does not know is refused before anything is armed.
    await page.getByLabel('Account the tapped band is enrolled to').fill('nobody');
    await page.click('#tap-start');
    await waitForText(page, '#err-tap-user', /nobody/);

    await page.getByLabel('Account the tapped band is enrolled to').fill('carol');
    assert.equal(await page.inputValue('#tap-terminal'), TERMINAL);
    await page.click('#tap-start');
    await waitForText(page, '#tap-status', new RegExp(`^Waiting for a tap at ${TERMINAL} for carol`));
    assert.deepEqual(await axeViolations(page), [], 'axe on the waiting enrollment session');
    assert.ok(await fitsWidth(page), 'the Enrollments page scrolls sideways at 1366x768');
    await consoleScreenshot(page, 'enroll-by-tap-waiting');

    // The band is tapped at the terminal, through the demo page's reader panel.
    const demoPage = await browser.context.newPage();
    await demoPage.goto(demo.page.url);
    await waitForText(demoPage, '#status', /^Connected to authentication service/);
    await demoPage.click(`button[data-user="${NEW_BAND}"][data-action="tap"]`);
    await waitForText(demoPage, '#log', /tapped at the enrollment station: enrolled\./);

    await waitForText(page, '#tap-status', new RegExp(`^Band ${newBand} enrolled to carol\\.$`));
    await waitForText(page, `[id="enr-${newBand}"] .state`, /^active$/);
    const stored = await platform.api<{ user: { sAMAccountName: string } }>(
      'GET',
      `/v1/enrollments/${newBand}`,
    );
    assert.equal(stored.user.sAMAccountName, 'carol');
    assert.deepEqual(await axeViolations(page), [], 'axe after the enrollment');
    await consoleScreenshot(page, 'enroll-by-tap-enrolled');

    // That band's tap now logs carol in on the demo's POMSnet page.
    await demoPage.click(`button[data-user="${NEW_BAND}"][data-action="clasp"]`);
    await demoPage.click(`button[data-user="${NEW_BAND}"][data-action="authenticate"]`);
    await demo.control(`/bands/${newBand}/rssi`, { rssi: -62 });
    await waitFor(
      async () => {
        await demoPage.click(`button[data-user="${NEW_BAND}"][data-action="tap"]`);
        const session = await demoPage.locator('#session').textContent({ timeout: 2000 });
        return /^Signed in as/.test(session ?? '');
      },
      { timeoutMs: 20_000, intervalMs: 500, what: 'carol signed in by the new band' },
    );
    await waitForText(demoPage, '#session', /Carol Clark|carol/);
    await consoleScreenshot(demoPage, 'enroll-by-tap-band-logs-in');
    await demoPage.close();
    assert.deepEqual(browser.pageErrors, []);
  });

  it('enrolls a UID badge by its UID, shows a bad UID under its field, and warns about copies', async () => {
    await page.fill('#uid-value', '04a1b2');
    await page.getByLabel('Account the badge is enrolled to').fill('alice');
    await page.click('#uid-submit');
    await waitForText(page, '#err-uid', /4, 7 or 10 bytes/);
    await page.fill('#uid-value', '04A1B2C3D4E5F6');
    await page.click('#uid-submit');
    await waitForText(
      page,
      '#toast',
      /^Enrolled UID badge uid-04a1b2c3d4e5f6\. A UID badge has no proof of possession/,
    );
    await waitForText(page, '[id="enr-uid-04a1b2c3d4e5f6"]', /UID badge/);
    const stored = await platform.api<{ kind: string; uid: string }>(
      'GET',
      '/v1/enrollments/uid-04a1b2c3d4e5f6',
    );
    assert.deepEqual([stored.kind, stored.uid], ['uid', '04a1b2c3d4e5f6']);
    assert.deepEqual(await axeViolations(page), [], 'axe with the UID badge enrolled');
    await consoleScreenshot(page, 'enroll-uid-badge');
    assert.deepEqual(browser.pageErrors, []);
  });
});
