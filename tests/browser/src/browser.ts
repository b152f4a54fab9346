import { REPO_ROOT } from '@tapgate/testing';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

interface PageGlobals {
  document: { querySelector(selector: string): { textContent: string | null } | null };
}

export const CHROMIUM = process.env.TAPGATE_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = join(REPO_ROOT, 'artifacts', 'browser');

export interface Browser {
  readonly context: BrowserContext;
  /** Uncaught errors from every page, so a broken page script fails the test that sees it. */
  readonly pageErrors: string[];
  close(): Promise<void>;
}

/** Debian's Chromium, headless, with a fresh profile; a clear error when it is not installed. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: run scripts/setup.sh --with-chromium (or set TAPGATE_CHROMIUM)`,
    );
  }
  const profile = mkdtempSync(join(tmpdir(), 'tapgate-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    viewport: { width: 1280, height: 900 },
  });
  const pageErrors: string[] = [];
  context.on('page', (p) => p.on('pageerror', (e) => pageErrors.push(e.message)));
  return {
    context,
    pageErrors,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Waits until the element's text matches; on timeout the error shows the text and the page's log panel. */
export async function waitForText(
  page: Page,
  selector: string,
  pattern: RegExp,
  timeoutMs = 15_000,
): Promise<string> {
  try {
    await page.waitForFunction(
      // Runs in the page (this package has no DOM typings).
      ([sel, source, flags]) =>
        new RegExp(source, flags).test(
          (globalThis as unknown as PageGlobals).document.querySelector(sel)?.textContent ?? '',
        ),
      [selector, pattern.source, pattern.flags] as const,
      { timeout: timeoutMs, polling: 100 },
    );
  } catch {
    const text = await page
      .locator(selector)
      .textContent()
      .catch(() => '(none)');
    const log = await page
      .locator('#log')
      .innerText()
      .catch(() => '');
    throw new Error(
      `${selector} never matched ${pattern} in ${timeoutMs} ms; it shows "${text}"\npage log:\n${log}`,
    );
  }
  return (await page.locator(selector).textContent()) ?? '';
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
