import { launchChromium, waitForText, type Browser } from '@tapgate/browser-tests';
import { startDemo, type RunningDemo } from '@tapgate/demo';
import { Platform, REPO_ROOT, freePort, waitFor } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { VIEWPORT, axeViolations, consoleScreenshot, fitsWidth } from './console-page';

const TERMINAL = 'OPS-T1';
const APP = 'ops-mes';

/**
 * The Terminals page against the real platform (gateway, policy, endpoint node process, demo bands):
 * online state, address and endpoint version from the gateways, the application bound, the last taps
 * (an unknown band's too), and every action behind the one confirmation dialog. Signed in with the
 * break-glass token typed on the login page (the AD login is tested in console.browser.test.ts).
 */
describe('console Terminals page: live state, bound applications, last taps, confirmed actions', () => {
  let platform: Platform;
  let demo: RunningDemo;
  let browser: Browser;
  let page: Page;
  let nea: WebSocket | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-console-terminals-'));
  const row = `[id="term-${TERMINAL}"]`;
  const endpointVersion = (
    JSON.parse(readFileSync(join(REPO_ROOT, 'services/endpoint-node/package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  const tap = async (user: string): Promise<{ outcome?: string; reason?: string }> => {
    const res = await demo.control(`/bands/${demo.bandIds[user]}/tap`);
    return ((await res.json()) as { decision?: { outcome: string; reason?: string } }).decision ?? {};
  };
  const confirmDialog = async (title: RegExp, answer: 'ok' | 'cancel' = 'ok') => {
    await waitForText(page, '#confirm-title', title);
    if (answer === 'ok') await page.click('#confirm-ok');
    else await page.locator('#confirm').getByRole('button', { name: 'Cancel' }).click();
    await waitFor(async () => (await page.locator('#confirm').count()) === 0, { what: 'dialog closed' });
  };
  const button = (name: string) => page.locator(row).getByRole('button', { name, exact: true });

  before(async () => {
    browser = await launchChromium();
    platform = await Platform.start({
      dir,
      logLevel: 'warn',
      users: [
        { sAMAccountName: 'alice', displayName: 'Alice Able', state: 'active' },
        { sAMAccountName: 'bob', displayName: 'Bob Baker', state: 'active' },
      ],
    });
    demo = await startDemo(platform, {
      dir,
      terminalId: TERMINAL,
      pagePort: 0,
      controlPort: await freePort(),
      audience: 'console-terminals-test',
      bands: [
        { user: 'alice', authenticated: true },
        { user: 'bob', authenticated: true },
      ],
    });
    await waitFor(async () => (await tap('alice')).reason === 'no_listener', {
      what: "alice's band known to presence",
    });
    // An application bound to the terminal by id, with a credential from the API, from outside.
    const app = await platform.api<{ credential: string }>('POST', '/v1/applications', {
      applicationId: APP,
      displayName: 'MES of the ops line',
      terminals: [TERMINAL],
    });
    const socket = new WebSocket(`ws://127.0.0.1:${platform.ports.webapi}/`);
    nea = socket;
    const welcomed = new Promise<void>((resolve) => {
      socket.onmessage = (ev) => {
        if ((JSON.parse(String(ev.data)) as { type: string }).type === 'welcome') resolve();
      };
    });
    await new Promise((resolve) => (socket.onopen = resolve));
    socket.send(
      JSON.stringify({
        v: 1,
        type: 'hello',
        data: {
          role: 'nea',
          terminalId: TERMINAL,
          credential: app.credential,
          app: { name: 'mes-client', version: '7.2' },
        },
      }),
    );
    await welcomed;
    assert.equal((await tap('alice')).outcome, 'granted');
    page = await browser.context.newPage();
    await page.setViewportSize(VIEWPORT);
    await page.goto(`http://127.0.0.1:${platform.ports.policyHttp}/console/#/terminals`);
    await page.check('#secret-token');
    await page.fill('#break-glass-token', platform.adminToken);
    await page.click('#token-submit');
    await waitForText(page, '#main h2', /^Terminals$/);
  });

  after(async () => {
    nea?.close();
    await page?.close().catch(() => undefined);
    await browser?.close();
    await demo?.stop();
    await platform?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the endpoint online with its address and version, the bound application and the last taps', async () => {
    await waitForText(page, '#gateways', /^Live state from 1 gateway replica \(.+\)\.$/);
    await waitForText(page, `${row} .connection`, /^online since .+ \(127\.0\.0\.1, .+\)$/);
    await waitForText(
      page,
      `${row} .version`,
      new RegExp(`^tapgate-endpoint-node ${endpointVersion.replace(/\./g, '\\.')}$`),
    );
    await waitForText(page, `${row} .apps`, new RegExp(`^${APP} \\(by terminal id, .+\\)$`));
    // Newest first: the granted tap the application received, then the refusal before it was bound.
    await waitForText(page, `${row} .last-tap`, /granted.*no_listener/);
    const taps = await page.locator(`${row} .last-tap > div`).allInnerTexts();
    assert.match(taps[0], /nfc alice: granted$/);
    assert.match(taps[1], /nfc alice: refused \(no_listener\)$/);
    assert.ok(await fitsWidth(page), 'the Terminals page scrolls sideways at 1366x768');
    assert.deepEqual(await axeViolations(page), []);
    await consoleScreenshot(page, 'terminals-online');
  });

  it("an unknown band's tap shows its band id, here and under Who in the audit trail's Taps view", async () => {
    await platform.api('DELETE', `/v1/enrollments/${demo.bandIds.bob}`);
    const bob = demo.bandIds.bob;
    await waitFor(async () => (await tap('bob')).reason === 'unknown_band', {
      what: 'bob refused as unknown',
    });
    await waitForText(page, `${row} .last-tap`, new RegExp(`^.*nfc band ${bob}: refused \\(unknown_band\\)`));
    await page
      .locator(row)
      .getByRole('link', { name: `Taps of ${TERMINAL} in the audit trail` })
      .click();
    await waitForText(page, '#main h2', /^Audit$/);
    assert.equal(await page.locator('#audit-terminal').inputValue(), TERMINAL);
    await waitForText(page, '#audit-status', /^\d+ records$/);
    assert.deepEqual(await page.locator('#audit thead th').allInnerTexts(), [
      'Time',
      'Terminal',
      'Band id',
      'Who',
      'Outcome',
      'Reason',
      'Identified by',
      'Sequence',
    ]);
    const newest = await page.locator('#audit tbody tr').first().innerText();
    assert.match(
      newest,
      new RegExp(`${TERMINAL}\\s+${bob}\\s+unknown band ${bob}\\s+refused\\s+unknown_band`),
    );
    // Every tap of the terminal is in the trail, the ones no login used too.
    const all = await page.locator('#audit tbody').innerText();
    assert.match(all, /alice \(Alice Able\)\s+granted/);
    // Refresh lists a tap made since, newest first.
    const listed = Number(/^(\d+) records$/.exec(await page.locator('#audit-status').innerText())?.[1]);
    assert.equal((await tap('alice')).outcome, 'granted');
    // The tap's record is queued by the gateway: it may land a moment after the endpoint's answer.
    await waitFor(
      async () => {
        await page.getByRole('button', { name: 'Refresh' }).click();
        await page.waitForTimeout(300);
        return (await page.locator('#audit-status').innerText()) === `${listed + 1} records`;
      },
      { what: 'the new tap listed after Refresh' },
    );
    assert.match(await page.locator('#audit tbody tr').first().innerText(), /alice \(Alice Able\)\s+granted/);
    assert.deepEqual(await axeViolations(page), []);
    await consoleScreenshot(page, 'audit-taps-unknown-band');
    await page.goBack();
    await waitForText(page, '#main h2', /^Terminals$/);
  });

  it('acts only after confirmation: Cancel changes nothing; disable, enable, rotate and delete do what they say', async () => {
    // Cancel: no new credential, the endpoint stays online.
    await button('New credential').click();
    await confirmDialog(new RegExp(`^New credential for ${TERMINAL}\\?$`), 'cancel');
    assert.equal(await page.locator('#credential-out').count(), 0);
    await waitForText(page, `${row} .connection`, /^online since /);

    await button('Disable').click();
    await confirmDialog(new RegExp(`^Disable ${TERMINAL}\\?$`));
    await waitForText(page, `${row} .state`, /^disabled/);
    await waitForText(page, `${row} .connection`, /^offline/, 10_000);
    await consoleScreenshot(page, 'terminals-disabled');

    await button('Enable').click();
    await confirmDialog(new RegExp(`^Enable ${TERMINAL}\\?$`));
    await waitForText(page, `${row} .state`, /^enabled/);
    // The endpoint node reconnects with its credential (its backoff may take a few seconds).
    await waitForText(page, `${row} .connection`, /^online since /, 30_000);

    await button('New credential').click();
    await confirmDialog(new RegExp(`^New credential for ${TERMINAL}\\?$`));
    await waitForText(page, '#credential-out pre', /^[A-Za-z0-9_-]{43}$/);
    // The old credential no longer admits the endpoint: the gateway cuts it off.
    await waitForText(page, `${row} .connection`, /^offline/, 10_000);

    await button('Delete').click();
    await confirmDialog(new RegExp(`^Delete ${TERMINAL}\\?$`));
    await waitFor(async () => (await page.locator(row).count()) === 0, { what: 'terminal row gone' });
    await waitForText(page, '#toast', new RegExp(`^${TERMINAL} deleted$`));
    await consoleScreenshot(page, 'terminals-deleted');

    // The administrator changes read as what changed, newest first.
    await page.locator('#nav').getByRole('link', { name: 'Audit' }).click();
    await waitForText(page, '#main h2', /^Audit$/);
    // Navigating leaves the focus on the link used, with no focus ring drawn around the page itself.
    const focusAfterNavigation = await page.evaluate(() => {
      const g = globalThis as unknown as {
        document: { activeElement: { textContent: string | null } | null; querySelector(s: string): unknown };
        getComputedStyle(e: unknown): { outlineStyle: string };
      };
      const main = g.document.querySelector('main');
      return {
        active: g.document.activeElement?.textContent ?? '',
        mainOutline: main ? g.getComputedStyle(main).outlineStyle : 'none',
      };
    });
    assert.equal(focusAfterNavigation.active, 'Audit');
    assert.equal(focusAfterNavigation.mainOutline, 'none');
    await page.getByRole('tab', { name: 'Administrator changes' }).click();
    await waitForText(page, '#audit-status', /^records 1-\d+/);
    const changes = await page.locator('#audit tbody').innerText();
    assert.match(changes, new RegExp(`terminal\\.delete\\s+terminal ${TERMINAL}`));
    assert.match(changes, new RegExp(`terminal\\.disable\\s+terminal ${TERMINAL}\\s+enabled: true → false`));
    assert.doesNotMatch(changes, /credentialSha256|\{"/);
    assert.deepEqual(await axeViolations(page), []);
    await consoleScreenshot(page, 'audit-admin-changes');
    // "Logged out." is information, not an error.
    await page.getByRole('button', { name: 'Log out' }).click();
    await waitForText(page, '#login-error', /^Logged out\.$/);
    const alert = page.locator('.pf-v6-c-alert', { has: page.locator('#login-error') });
    assert.match((await alert.getAttribute('class')) ?? '', /pf-m-info/);
    assert.doesNotMatch((await alert.getAttribute('class')) ?? '', /pf-m-danger/);
    assert.deepEqual(browser.pageErrors, []);
  });
});
