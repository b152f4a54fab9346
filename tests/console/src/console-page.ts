import { REPO_ROOT } from '@tapgate/testing';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';

/** The smallest screen the console must work on (the issue). */
export const VIEWPORT = { width: 1366, height: 768 };
export const CONSOLE_ARTIFACTS = join(REPO_ROOT, 'artifacts', 'console');

interface PageGlobals {
  document: {
    activeElement: { id: string; tagName: string; textContent: string | null } | null;
    documentElement: { scrollWidth: number };
  };
}

export async function consoleScreenshot(page: Page, name: string): Promise<void> {
  mkdirSync(CONSOLE_ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(CONSOLE_ARTIFACTS, `${name}.png`), fullPage: true });
}

/** What has the keyboard focus: "#id", or "tag:text" for elements without an id. */
export function focused(page: Page): Promise<string> {
  return page.evaluate(() => {
    const a = (globalThis as unknown as PageGlobals).document.activeElement;
    if (!a) return '';
    return a.id ? `#${a.id}` : `${a.tagName.toLowerCase()}:${(a.textContent ?? '').trim()}`;
  });
}

/** Presses Tab until `target` (as `focused` names it) has the focus; fails after `max` presses. */
export async function tabTo(page: Page, target: string, max = 60): Promise<void> {
  const seen: string[] = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const now = await focused(page);
    if (now === target) return;
    seen.push(now);
  }
  throw new Error(`Tab never reached ${target}; focus went through: ${seen.join(' > ')}`);
}

/** True when the page fits the window's width (no horizontal scrolling). */
export function fitsWidth(page: Page): Promise<boolean> {
  return page.evaluate(
    (width) => (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth <= width,
    VIEWPORT.width,
  );
}

interface AxeViolation {
  id: string;
  impact?: string | null;
  help: string;
  nodes: Array<{ target: unknown }>;
}

/**
 * Runs axe-core (WCAG 2.1 A/AA rules) on the page as it is and returns the serious and critical
 * violations. The script is evaluated through the DevTools protocol, which the page's CSP does not govern,
 * so the console's CSP stays as it ships.
 */
export async function axeViolations(page: Page): Promise<string[]> {
  const source = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(source);
  const violations = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as { axe: { run(o: unknown): Promise<{ violations: AxeViolation[] }> } }
    ).axe;
    const r = await axe.run({
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return r.violations;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${v.impact ?? ''} ${v.id}: ${v.help} (${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')})`,
    );
}
