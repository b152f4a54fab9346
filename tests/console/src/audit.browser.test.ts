import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { AuditTrail, appendSampleRecords, sampleDecision, type AuditInput } from '@tapgate/audit';
import { launchChromium, waitForText, type Browser } from '@tapgate/browser-tests';
import { AUDIT_SUBJECT } from '@tapgate/contracts';
import { connectMessaging, type Messaging } from '@tapgate/messaging';
import { startPolicy, type PolicyHarness } from '@tapgate/policy';
import { startNats, waitFor, type TestServer } from '@tapgate/testing';
import type { Page } from 'playwright-core';
import { join } from 'node:path';
import { CONSOLE_ARTIFACTS, VIEWPORT, axeViolations, fitsWidth } from './console-page';

const RECORDS = 12_000;
/** Records dated three days ago: only a range that reaches back that far shows them. */
const OLD = 30;
const OLD_AT = new Date(Date.now() - 3 * 24 * 3_600_000);
const UNKNOWN_BAND = 'b'.repeat(22);
const KINDS = ['tap', 'login', 'esign'] as const;

/** Sample i: a tap, a login or a signature by turns; every 7th refused; two terminals; the last an unknown band. */
function sample(i: number): AuditInput {
  const kind = KINDS[i % 3];
  const base = sampleDecision({
    kind,
    tapId: `console-${i}`,
    terminalId: i % 2 === 0 ? 'LINE1-T04' : 'LINE2-T01',
    bandId: `band-${String(i).padStart(17, '0')}`,
    ...(i >= RECORDS ? { at: new Date(OLD_AT.getTime() + i).toISOString() } : {}),
    ...(i % 7 === 0 ? { outcome: 'refused', reason: 'user_not_active' } : {}),
    ...(kind === 'esign'
      ? { esignReason: 'Approved', esignComment: `batch ${i}`, signer: 1, secondSignerRequired: true }
      : {}),
  });
  if (i !== RECORDS - 1) return base;
  const { user: _user, decision: _decision, esignReason: _m, esignComment: _c, signer: _s, ...rest } = base;
  return { ...rest, kind: 'tap', bandId: UNKNOWN_BAND, outcome: 'refused', reason: 'unknown_band' };
}
const samples = Array.from({ length: RECORDS }, (_, i) => sample(i));
const refusedOutcome = (r: AuditInput) => r.outcome === 'refused';
const count = (kind: string, f: (r: AuditInput) => boolean = () => true) =>
  samples.filter((r) => r.kind === kind && f(r)).length;

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
    // The old records first (the stream is in sequence order, not time order).
    await appendSampleRecords(messaging, trail, OLD, (i) => sample(RECORDS + i));
    await appendSampleRecords(messaging, trail, RECORDS, (i) => samples[i]);
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

  /** The sequence of sample i (the old records were appended first). */
  const seqOf = (i: number) => OLD + i + 1;
  const tapIndexes = samples.flatMap((r, i) => (r.kind === 'tap' ? [i] : [])).reverse();
  const view = async (name: string) => {
    await page.getByRole('tab', { name }).click();
    await waitForText(page, '#audit-status', /records/, 60_000);
  };
  /** A datetime-local value (the browser runs in this machine's time zone). */
  const local = (t: number) =>
    new Date(t - new Date(t).getTimezoneOffset() * 60_000).toISOString().slice(0, 16);

  it(`Taps: newest first, 50 a page, the unknown band under Who; the period's ${RECORDS} records as CSV`, async (t) => {
    await waitForText(page, '#audit-status', new RegExp(`^${count('tap')} records$`), 60_000);
    assert.equal(await page.locator('#audit tbody tr').count(), 50);
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
    // Newest first: the last record appended, an unknown band known only by its id, heads the first page.
    const first = await page.locator('#audit tbody tr').first().innerText();
    assert.match(
      first,
      new RegExp(`${UNKNOWN_BAND}\\s+unknown band ${UNKNOWN_BAND}\\s+refused\\s+unknown_band`),
    );
    assert.match(first, new RegExp(`#${seqOf(RECORDS - 1)}$`));
    assert.match(await page.locator('#audit tbody').innerText(), /refused\s+user_not_active/);
    await page
      .getByRole('button', { name: /next page/i })
      .first()
      .click();
    await waitFor(
      async () =>
        (await page.locator('#audit tbody tr').first().innerText()).endsWith(`#${seqOf(tapIndexes[50])}`),
      { what: 'the second page (taps 51-100)' },
    );
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
    assert.match(lines[0], /^seq,at,kind,outcome,reason,status,terminalId,tapId,bandId,/);
    assert.equal(
      lines.length,
      RECORDS + 2,
      'header, every record of the period, and the empty string after the last CRLF',
    );
    assert.equal(new Set(lines.slice(1, -1).map((l) => l.slice(0, l.indexOf(',')))).size, RECORDS);
    const said = await waitForText(
      page,
      '#audit-result',
      new RegExp(
        `${RECORDS} records exported; the trail holds ${RECORDS + OLD} records; nothing missing or unreadable\\.$`,
      ),
    );
    t.diagnostic(said);
    assert.ok(await fitsWidth(page), 'the Audit page scrolls sideways at 1366x768');
    await page.screenshot({ path: join(CONSOLE_ARTIFACTS, 'audit-taps.png') }); // the window, not 50 rows
  });

  it('downloads JSON: every record of the period exactly as hashed, with its sequence', async () => {
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 60_000 }),
      page.getByRole('button', { name: 'Export JSON' }).click(),
    ]);
    const entries = JSON.parse(readFileSync(await download.path(), 'utf8')) as Array<{ seq: number }>;
    assert.equal(entries.length, RECORDS);
    assert.deepEqual(
      entries.map((e) => e.seq),
      Array.from({ length: RECORDS }, (_, i) => seqOf(i)),
    );
  });

  it('E-signatures and Logins have their own columns; filters by outcome, terminal, band id and time range work on the server', async () => {
    await view('E-signatures');
    await waitForText(page, '#audit-status', new RegExp(`^${count('esign')} records$`), 60_000);
    assert.deepEqual(await page.locator('#audit thead th').allInnerTexts(), [
      'Time',
      'Terminal',
      'Band id',
      'Who',
      'Outcome',
      'Reason',
      'Meaning',
      'Comment',
      'Signer',
      'Sequence',
    ]);
    const newestSign = samples.findLastIndex((r) => r.kind === 'esign');
    assert.match(
      await page.locator('#audit tbody tr').first().innerText(),
      new RegExp(
        `alice \\(Alice Able\\)\\s+\\w+\\s+.*Approved\\s+batch ${newestSign}\\s+1 of 2\\s+#${seqOf(newestSign)}$`,
      ),
    );
    await page.selectOption('#audit-outcome', 'refused');
    const refused = (r: AuditInput) => r.outcome === 'refused';
    await waitForText(page, '#audit-status', new RegExp(`^${count('esign', refused)} records$`), 60_000);
    await page.fill('#audit-terminal', 'LINE2-T01');
    const line2 = (r: AuditInput) => refused(r) && r.terminalId === 'LINE2-T01';
    await waitForText(page, '#audit-status', new RegExp(`^${count('esign', line2)} records$`), 60_000);
    await page.screenshot({ path: join(CONSOLE_ARTIFACTS, 'audit-esign-filtered.png') });
    assert.deepEqual(await axeViolations(page), []);
    await page.fill('#audit-terminal', '');
    await page.selectOption('#audit-outcome', '');
    await view('Logins');
    assert.deepEqual((await page.locator('#audit thead th').allInnerTexts()).slice(-2), [
      'Application',
      'Sequence',
    ]);
    const oneBand = samples[301];
    await page.fill('#audit-user', String(oneBand.bandId));
    await waitForText(page, '#audit-status', /^1 records$/, 60_000);
    assert.match(await page.locator('#audit tbody').innerText(), new RegExp(`${oneBand.bandId}\\s+alice`));
    await page.fill('#audit-user', '');
    // The time range: the last 7 days reach the old taps; a custom range holds only them.
    await view('Taps');
    const oldTaps = Array.from({ length: OLD }, (_, i) => sample(RECORDS + i)).filter(
      (r) => r.kind === 'tap',
    ).length;
    await page.selectOption('#audit-hours', '168');
    await waitForText(page, '#audit-status', new RegExp(`^${count('tap') + oldTaps} records$`), 60_000);
    await page.selectOption('#audit-hours', 'custom');
    await page.fill('#audit-from', local(OLD_AT.getTime() - 60_000));
    await page.fill('#audit-to', local(OLD_AT.getTime() + 3_600_000));
    await waitForText(page, '#audit-status', new RegExp(`^${oldTaps} records$`), 60_000);
    await page.screenshot({ path: join(CONSOLE_ARTIFACTS, 'audit-custom-range.png') });
    await page.selectOption('#audit-hours', '24');
    await waitForText(page, '#audit-status', new RegExp(`^${count('tap')} records$`), 60_000);
  });

  it('the Dashboard counts the last hour from the trail: taps per minute, refusals by reason, service health', async () => {
    const dash = page;
    await dash.evaluate("location.hash = '#/dashboard'");
    await waitForText(dash, '#main h2', /^Dashboard$/);
    await waitForText(dash, '#per-minute', new RegExp(`${count('tap')} taps; peak \\d+ a minute`), 60_000);
    const tapRefusals = count('tap', (r) => r.reason === 'user_not_active');
    assert.equal(
      await dash.locator('#refusals tbody').innerText(),
      `user_not_active\t${tapRefusals}\nunknown_band\t1`,
    );
    const outcomes = (kind: string) =>
      `${count(kind, (r) => r.outcome === 'granted')} granted, ${count(kind, refusedOutcome)} refused`;
    assert.equal(
      await dash.locator('#uses').innerText(),
      `logins: ${outcomes('login')}; e-signatures: ${outcomes('esign')}`,
    );
    await waitForText(dash, '#health', /policy: ready \(NATS connected, KV buckets open\)/);
    assert.match(
      await dash.locator('#health').innerText(),
      /gateways: 0 replicas answering\s+audit trail: readable/,
    );
    assert.deepEqual(await axeViolations(dash), []);
    await dash.screenshot({ path: join(CONSOLE_ARTIFACTS, 'dashboard.png') });
    await dash.evaluate("location.hash = '#/audit'");
    await waitForText(page, '#audit-status', new RegExp(`^${count('tap')} records$`), 60_000);
  });

  it('verifies the chain, and names the sequence once a forged record breaks it', async () => {
    await page.getByRole('button', { name: 'Verify chain' }).click();
    await waitForText(
      page,
      '#audit-result',
      new RegExp(
        `^Chain intact: ${RECORDS + OLD} records verified \\(sequences 1-${RECORDS + OLD}\\); head hash [0-9a-f]{64}$`,
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
        `^Chain BROKEN at sequence ${RECORDS + OLD + 1}: hash_mismatch .*; ${RECORDS + OLD} records verified before it$`,
      ),
      60_000,
    );
    assert.match((await page.locator('#audit-result').getAttribute('class')) ?? '', /\berr\b/);
    await page.screenshot({ path: join(CONSOLE_ARTIFACTS, 'audit-verify-broken.png') });
    assert.deepEqual(browser.pageErrors, []);
  });
});
