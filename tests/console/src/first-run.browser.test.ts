import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { launchChromium, waitForText, type Browser } from '@tapgate/browser-tests';
import { startPolicy, type PolicyHarness } from '@tapgate/policy';
import { startNats, type TestServer } from '@tapgate/testing';
import type { Page } from 'playwright-core';
import { VIEWPORT, axeViolations, consoleScreenshot } from './console-page';

/**
 * First run without AD: the bootstrap administrator signs in on the login page with the one-time code the
 * policy service wrote to [policy].bootstrap_admin_file; the code works once.
 */
describe('console first run: the one-time sign-in code on the login page', () => {
  let nats: TestServer;
  let policy: PolicyHarness;
  let browser: Browser;
  let page: Page;

  before(async () => {
    browser = await launchChromium();
    nats = await startNats();
    policy = await startPolicy(nats.url, { bootstrapAdmin: {} });
    page = await browser.context.newPage();
    await page.setViewportSize(VIEWPORT);
  });

  after(async () => {
    await page?.close().catch(() => undefined);
    await browser?.close();
    await policy?.close();
    await nats?.dispose();
  });

  it('signs in with the code as bootstrap-admin; the spent code is refused with a clear message', async () => {
    const code = readFileSync(join(policy.dir, 'bootstrap-admin.code'), 'utf8').trim();
    await page.goto(`${policy.url}/console/`);
    await waitForText(page, 'main h2', /^Log in to the Tapgate console$/);
    assert.equal(await page.isChecked('#secret-code'), true, 'the code is the default way without AD');
    await page.fill('#break-glass-token', code);
    await page.click('#token-submit');
    await waitForText(page, '#whoami', /^bootstrap-admin \(admin\)$/);
    await waitForText(page, '#main h2', /^Policies$/);
    // The empty list explains what to do.
    await waitForText(page, '#policies tbody', /^No policies yet/);
    assert.deepEqual(await axeViolations(page), []);
    await consoleScreenshot(page, 'first-run-signed-in');

    await page.getByRole('button', { name: 'Log out' }).click();
    await waitForText(page, '#login-error', /^Logged out\.$/);
    await page.fill('#break-glass-token', code);
    await page.click('#token-submit');
    await waitForText(page, '#login-error', /^wrong, used or expired sign-in code$/);
    assert.deepEqual(browser.pageErrors, []);
  });
});
