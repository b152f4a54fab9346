// The scenarios' terminal logic (k6/lib with the k6 stand-ins) against the whole platform: three terminals
// enrolled through the policy API get every signed tap granted, and a tap counts as sent only when it went
// out. Shared by the k6 1.x run (k6-signing.test.ts) and the k6 v0.50 run (k6-v050.test.ts).
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Platform, waitFor } from '@tapgate/testing';
import { importRepoModule, useK6StandIns, type K6Flavour } from './k6-stand-ins';

type Jwk = Record<string, string>;

interface Sample {
  value: number;
  tags: Record<string, string>;
}
interface TerminalLike {
  connect(): void;
  ready(): boolean;
  tap(): Promise<void>;
  close(): void;
}
type Settings = Record<string, unknown>;
interface ScenarioModules {
  readSettings(env: Record<string, string>, defaults: object): Settings;
  setupTerminals(
    settings: Settings,
    fileCredentials: object,
  ): Promise<{ credentials: Record<string, string>; bandKeys: Record<string, Jwk>; appCredential: string }>;
  Terminal: new (
    index: number,
    settings: Settings,
    credentials: Record<string, string>,
    bandKeys: Record<string, Jwk>,
    appCredential: string,
  ) => TerminalLike;
  samples: Map<string, Sample[]>;
  checkResults: { name: string; ok: boolean }[];
}

const ENDPOINTS = 3;

/** The terminals of both scenarios against a platform, under the stand-ins of `flavour`. */
export function describeK6TerminalsAgainstPlatform(flavour: K6Flavour): void {
  describe(`k6/lib terminals against the platform (k6 ${flavour} stand-ins under Node)`, () => {
    let platform: Platform;
    let dir: string;
    let m: ScenarioModules;
    let terminals: TerminalLike[] = [];
    before(async () => {
      useK6StandIns(flavour);
      m = {
        ...(await importRepoModule<Pick<ScenarioModules, 'readSettings'>>('k6/lib/settings.js')),
        ...(await importRepoModule<Pick<ScenarioModules, 'setupTerminals'>>('k6/lib/setup.js')),
        ...(await importRepoModule<Pick<ScenarioModules, 'Terminal'>>('k6/lib/terminal.js')),
        ...(await importRepoModule<Pick<ScenarioModules, 'samples'>>(
          'tests/deploy/k6-stand-ins/metrics.mjs',
        )),
        ...(await importRepoModule<Pick<ScenarioModules, 'checkResults'>>(
          'tests/deploy/k6-stand-ins/k6.mjs',
        )),
      };
      dir = mkdtempSync(join(tmpdir(), 'tapgate-k6-'));
      platform = await Platform.start({
        dir,
        logLevel: 'warn',
        users: Array.from({ length: ENDPOINTS }, (_, i) => ({
          sAMAccountName: `k6user${i}`,
          displayName: `k6 user ${i}`,
          state: 'active' as const,
        })),
      });
    });
    after(async () => {
      // Open sockets and timers would keep the test process alive after a failure.
      for (const t of terminals) t.close();
      await platform?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const count = (name: string, where: (s: Sample) => boolean = () => true): number =>
      (m.samples.get(name) ?? []).filter(where).reduce((sum, s) => sum + s.value, 0);

    it('enrolls through the policy API and gets every signed tap granted', async () => {
      const settings = m.readSettings(
        {
          TAPGATE_URL: `ws://127.0.0.1:${platform.ports.agent}`,
          NEA_URL: `ws://127.0.0.1:${platform.ports.webapi}`,
          ENDPOINTS: String(ENDPOINTS),
          TAPGATE_ADMIN_TOKEN: platform.adminToken,
          TAPGATE_POLICY_URL: `http://127.0.0.1:${platform.ports.policyHttp}`,
          TERMINAL_PREFIX: 'k6it',
        },
        { endpoints: ENDPOINTS, rate: 1, duration: '1s' },
      );
      // Twice: a re-run against the same platform rotates credentials and re-keys the bands.
      await m.setupTerminals(settings, {});
      const data = await m.setupTerminals(settings, {});
      assert.equal(Object.keys(data.bandKeys).length, ENDPOINTS);

      terminals = Array.from(
        { length: ENDPOINTS },
        (_, i) => new m.Terminal(i, settings, data.credentials, data.bandKeys, data.appCredential),
      );
      for (const t of terminals) t.connect();
      await waitFor(() => terminals.every((t) => t.ready()), { what: 'sockets welcomed' });
      // The adverts sent on welcome reach presence asynchronously.
      await new Promise((r) => setTimeout(r, 500));

      let expected = 0;
      for (let round = 0; round < 3; round++) {
        for (const t of terminals) await t.tap();
        expected += ENDPOINTS;
        await waitFor(() => count('tapgate_tap_decisions') === expected, { what: `${expected} decisions` });
      }
      // Two taps at once on one terminal: the second finds no fresh challenge and asks for one.
      await Promise.all([terminals[0].tap(), terminals[0].tap()]);
      expected += 2;
      await waitFor(() => count('tapgate_tap_decisions') === expected, { what: `${expected} decisions` });
      await new Promise((r) => setTimeout(r, 200)); // the last tap.result

      const refused = (m.samples.get('tapgate_tap_decisions') ?? []).filter(
        (s) => s.tags.outcome !== 'granted',
      );
      assert.deepEqual(refused, [], 'every tap granted');
      assert.equal(
        count('tapgate_tap_decisions', (s) => s.tags.outcome === 'granted'),
        expected,
      );
      assert.equal(count('tapgate_taps_unsigned'), 0);
      assert.equal((m.samples.get('tapgate_tap_result_ms') ?? []).length, expected);
      assert.equal(count('tapgate_taps_sent'), expected, 'every tap went out and was counted once');
      assert.equal(count('tapgate_taps_not_ready') + count('tapgate_taps_not_sent'), 0);
      const closing = terminals;
      for (const t of closing) t.close();
      terminals = [];
      assert.ok(
        m.checkResults.length > 0 && m.checkResults.every((c) => c.ok),
        JSON.stringify(m.checkResults),
      );
      // Sockets closing (close() was called, onclose not yet run): a tap now cannot go out and is not
      // counted as sent.
      await closing[0].tap();
      assert.equal(count('tapgate_taps_sent'), expected);
      assert.equal(count('tapgate_taps_not_ready') + count('tapgate_taps_not_sent'), 1);
      const latencies = (m.samples.get('tapgate_tap_to_nea_ms') ?? [])
        .map((s) => s.value)
        .sort((a, b) => a - b);
      console.log(
        `k6 ${flavour} terminals under Node: ${expected} taps granted; tap->NEA ms ${latencies.join(' ')}`,
      );
    });
  });
}
