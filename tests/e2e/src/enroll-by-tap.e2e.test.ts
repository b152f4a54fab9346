import { SoftwareBand, signEnrollProof, signProof } from '@tapgate/band';
import {
  EnrollmentTap,
  type EnrollResult,
  type EnrollmentTapOutcome,
  type EnrollmentTapRequest,
} from '@tapgate/contracts';
import { Messaging } from '@tapgate/messaging';
import { Platform, waitFor } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AgentClient } from '@tapgate/endpoint-node';
import { connectTerminal, Nea, tap } from './harness';

/** Every member the answers below may have (a session, an enrollment, a list or an error). */
interface Body {
  error: { code: string; field?: string };
  sessionId: string;
  state: string;
  attempts: Array<{ reason: string }>;
  enrolled: { bandId: string; kind: string; warning?: string };
  bandId: string;
  kind?: string;
  uid?: string;
  publicKey?: unknown;
  warning: string;
  user: { sAMAccountName: string };
  created: { by: string };
  items: Array<{ bandId: string; action: string }>;
}

/**
 * Enrollment by tap with every service as its own process, a real NATS and real endpoint clients: the
 * policy API opens the session, the gateway arms the endpoint and verifies the band's proof, the policy
 * service enrolls through the same path as a pasted key. Refusals the endpoint node never sends on its own
 * (a used, cancelled or another terminal's session; two taps racing for one session) are sent on NATS as
 * a gateway would send them, to the real policy service.
 */
describe('enrollment by tap, end to end', () => {
  let platform: Platform;
  let nats: Messaging;
  let t1: AgentClient;
  let t2: AgentClient;
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-enroll-'));

  const call = async (
    method: string,
    path: string,
    body?: unknown,
    token = platform.adminToken,
  ): Promise<{ status: number; body: Body }> => {
    const res = await fetch(`${platform.policyUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Body };
  };
  const open = (terminalId: string, user: string, extra: Record<string, unknown> = {}) =>
    call('POST', '/v1/enrollment-sessions', { terminalId, user: { sAMAccountName: user }, ...extra });
  const enrollTap = (ep: AgentClient, band: SoftwareBand): Promise<EnrollResult> =>
    ep.enrollTap({
      answer: (challenge, terminalId, sessionId) =>
        band.answerEnrollment({ challenge, terminalId, sessionId }),
    });
  /** As a gateway forwards an enrollment tap whose proof it verified. */
  const forward = (
    req: Omit<EnrollmentTapRequest, 'v' | 'gateway' | 'tapId'>,
  ): Promise<EnrollmentTapOutcome> =>
    nats.request(
      EnrollmentTap,
      { v: 1, gateway: 'test', tapId: `t-${Math.random().toString(36).slice(2)}`, ...req },
      { timeoutMs: 10_000 },
    );
  const bandEvidence = (band: SoftwareBand, sessionId: string, terminalId: string) => {
    const key = createPrivateKey({ key: band.privateJwk(), format: 'jwk' });
    const answer = band.answerEnrollment({ challenge: 'C'.repeat(43), terminalId, sessionId });
    return {
      kind: 'band' as const,
      bandId: band.bandId,
      publicKey: answer.publicKey,
      proof: signEnrollProof(key, {
        challenge: 'C'.repeat(43),
        terminalId,
        sessionId,
        bandId: band.bandId,
        timestamp: Date.now(),
      }),
    };
  };

  before(async () => {
    platform = await Platform.start({
      dir,
      logLevel: 'warn',
      users: [
        { sAMAccountName: 'alice', displayName: 'Alice Able', state: 'active' },
        { sAMAccountName: 'bob', displayName: 'Bob Baker', state: 'active' },
      ],
    });
    nats = new Messaging({ servers: [platform.nats.url], name: 'enroll-test' });
    await nats.connection();
    t1 = await connectTerminal(platform, 'ENR-T1');
    t2 = await connectTerminal(platform, 'ENR-T2');
  });

  after(async () => {
    await t1?.stop();
    await t2?.stop();
    await nats?.close();
    await platform?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('enrolls a new band tapped at the terminal, and its next tap logs alice in', async () => {
    const opened = await open('ENR-T1', 'alice');
    assert.equal(opened.status, 201, JSON.stringify(opened.body));
    assert.equal(opened.body.state, 'waiting');
    await waitFor(() => t1.enrollment?.sessionId === opened.body.sessionId, { what: 'endpoint armed' });
    assert.equal(t2.enrollment, undefined, 'only the chosen terminal is armed');

    const band = SoftwareBand.generate();
    const result = await enrollTap(t1, band);
    assert.equal(result.outcome, 'enrolled', JSON.stringify(result));
    assert.equal(result.bandId, band.bandId);
    assert.equal(t1.enrollment, undefined, 'the session is over for the terminal');

    const session = await call('GET', '/v1/enrollment-sessions/ENR-T1');
    assert.equal(session.body.state, 'enrolled');
    assert.deepEqual(session.body.enrolled, { bandId: band.bandId, kind: 'band' });
    const enrollment = await call('GET', `/v1/enrollments/${band.bandId}`);
    assert.equal(enrollment.status, 200);
    assert.equal(enrollment.body.user.sAMAccountName, 'alice');
    assert.equal(enrollment.body.created.by, 'break-glass-admin');
    const audit = await call('GET', '/v1/audit/admin?limit=20');
    const actions = (audit.body.items as Array<{ action: string }>).map((r) => r.action);
    for (const a of ['enrollment_session.open', 'enrollment.enroll', 'enrollment_session.enrolled']) {
      assert.ok(actions.includes(a), `${a} in ${actions.join(',')}`);
    }

    // The band now taps like any enrolled band.
    const nea = await Nea.open(platform, 'ENR-T1');
    band.clasp();
    band.authenticate();
    t1.adverts([band.advert(-60)]);
    await waitFor(async () => (await tap(t1, band)).decision.outcome === 'granted', {
      what: 'the enrolled band granted',
    });
    const seen = await nea.tapFor(band.bandId);
    assert.equal(seen.data.decision.user?.displayName, 'Alice Able');
    nea.close();
  });

  it('refuses a bad proof, a proof for another terminal and a band already enrolled, keeping the session open', async () => {
    const opened = await open('ENR-T1', 'bob');
    assert.equal(opened.status, 201, JSON.stringify(opened.body));
    await waitFor(() => t1.enrollment?.sessionId === opened.body.sessionId, { what: 'endpoint armed' });
    const band = SoftwareBand.generate();
    const garbled = await t1.enrollTap({
      answer: (c, t, s) => {
        const a = band.answerEnrollment({ challenge: c, terminalId: t, sessionId: s });
        const sig = a.proof.signature;
        return { ...a, proof: { ...a.proof, signature: (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1) } };
      },
    });
    assert.deepEqual([garbled.outcome, garbled.reason], ['refused', 'bad_signature']);
    const elsewhere = await t1.enrollTap({
      answer: (c, _t, s) => band.answerEnrollment({ challenge: c, terminalId: 'ENR-T2', sessionId: s }),
    });
    assert.deepEqual([elsewhere.outcome, elsewhere.reason], ['refused', 'wrong_terminal']);
    // A tap proof is not an enrollment proof (another domain).
    const key = createPrivateKey({ key: band.privateJwk(), format: 'jwk' });
    const tapProof = await t1.enrollTap({
      answer: (c, t, s) => ({
        ...band.answerEnrollment({ challenge: c, terminalId: t, sessionId: s }),
        proof: signProof(key, { challenge: c, terminalId: t, bandId: band.bandId, timestamp: Date.now() }),
      }),
    });
    assert.equal(tapProof.reason, 'bad_signature');
    const again = await enrollTap(t1, band);
    assert.equal(again.outcome, 'enrolled', 'the session stayed open for the good tap');
    const bobs = (await call('GET', '/v1/enrollments?user=bob')).body.items as Array<{ bandId: string }>;
    assert.deepEqual(
      bobs.map((e) => e.bandId),
      [band.bandId],
    );

    const reuse = await open('ENR-T1', 'bob');
    await waitFor(() => t1.enrollment?.sessionId === reuse.body.sessionId, { what: 'endpoint armed' });
    const dup = await enrollTap(t1, band);
    assert.deepEqual([dup.outcome, dup.reason], ['refused', 'already_enrolled']);
    const attempts = (await call('GET', '/v1/enrollment-sessions/ENR-T1')).body.attempts as Array<{
      reason: string;
    }>;
    assert.deepEqual(
      attempts.map((a) => a.reason),
      ['already_enrolled'],
      'the console sees why the tap did not enroll',
    );
    const cancelled = await call('POST', '/v1/enrollment-sessions/ENR-T1/cancel', {});
    assert.equal(cancelled.body.state, 'cancelled');
    await waitFor(() => t1.enrollment === undefined, { what: 'endpoint disarmed by the cancel' });
  });

  it('opens one session per terminal under concurrent requests, refuses offline terminals and non-admins', async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => open('ENR-T2', 'alice')));
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [201, 409, 409, 409, 409, 409, 409, 409], JSON.stringify(answers));
    for (const a of answers.filter((x) => x.status === 409)) assert.equal(a.body.error.code, 'session_open');
    const winner = answers.find((a) => a.status === 201)!.body;
    await waitFor(() => t2.enrollment?.sessionId === winner.sessionId, { what: 'the winner armed' });
    const other = await call('POST', '/v1/enrollment-sessions/ENR-T2/cancel', { sessionId: 'not-this-one' });
    assert.equal(other.status, 404, 'a named session that is not the open one is not cancelled');
    await call('POST', '/v1/enrollment-sessions/ENR-T2/cancel', { sessionId: winner.sessionId });

    await platform.api('POST', '/v1/terminals', { terminalId: 'ENR-OFF' });
    const offline = await open('ENR-OFF', 'alice');
    assert.deepEqual([offline.status, offline.body.error.code], [409, 'terminal_offline']);
    // The refused session does not hold the terminal.
    assert.equal((await call('GET', '/v1/enrollment-sessions/ENR-OFF')).status, 404);

    const unknownUser = await open('ENR-T2', 'nobody');
    assert.equal(unknownUser.body.error.code, 'unknown_user');
    const anonymous = await call('POST', '/v1/enrollment-sessions', { terminalId: 'ENR-T2' }, 'wrong');
    assert.equal(anonymous.status, 401);
    const badBody = await open('ENR-T2', 'alice', { timeoutSeconds: 5, accept: ['band', 'band'] });
    assert.equal(badBody.status, 400);
    // An endpoint has no frame that opens a session: enroll.tap without one is refused.
    const none = await t2.enrollTap({ uid: '04a1b2c3' }).catch((e: Error) => e);
    assert.ok(none instanceof Error && /not expecting/.test(none.message));
  });

  it('one enrollment per session when two taps race; used, cancelled and other terminals’ sessions refused', async () => {
    const opened = await open('ENR-T2', 'bob');
    assert.equal(opened.status, 201);
    const sessionId = opened.body.sessionId;
    await waitFor(() => t2.enrollment?.sessionId === sessionId, { what: 'endpoint armed' });
    const [a, b] = [SoftwareBand.generate(), SoftwareBand.generate()];
    const raced = await Promise.all([
      forward({ sessionId, terminalId: 'ENR-T2', evidence: bandEvidence(a, sessionId, 'ENR-T2') }),
      forward({ sessionId, terminalId: 'ENR-T2', evidence: bandEvidence(b, sessionId, 'ENR-T2') }),
    ]);
    assert.deepEqual(raced.map((r) => r.outcome).sort(), ['enrolled', 'refused'], JSON.stringify(raced));
    assert.equal(raced.find((r) => r.outcome === 'refused')!.reason, 'session_used');
    // The enrollment came through another path than this endpoint's socket: it is told the session ended.
    await waitFor(() => t2.enrollment === undefined, { what: 'endpoint disarmed after the enrollment' });
    const loser = raced[0].outcome === 'refused' ? a : b;
    assert.equal((await call('GET', `/v1/enrollments/${loser.bandId}`)).status, 404);

    const c = SoftwareBand.generate();
    const used = await forward({
      sessionId,
      terminalId: 'ENR-T2',
      evidence: bandEvidence(c, sessionId, 'ENR-T2'),
    });
    assert.equal(used.reason, 'session_used');
    const wrong = await forward({
      sessionId,
      terminalId: 'ENR-T1',
      evidence: bandEvidence(c, sessionId, 'ENR-T1'),
    });
    assert.equal(wrong.reason, 'wrong_terminal');

    const next = await open('ENR-T2', 'bob');
    await call('POST', '/v1/enrollment-sessions/ENR-T2/cancel', {});
    const cancelled = await forward({
      sessionId: next.body.sessionId,
      terminalId: 'ENR-T2',
      evidence: bandEvidence(c, next.body.sessionId, 'ENR-T2'),
    });
    assert.equal(cancelled.reason, 'session_cancelled');
  });

  it('expires a session after its time: the tap is refused and the terminal is free again', async () => {
    const opened = await open('ENR-T2', 'bob', { timeoutSeconds: 10 });
    assert.equal(opened.status, 201);
    await waitFor(() => t2.enrollment !== undefined, { what: 'armed' });
    await waitFor(
      async () => (await call('GET', '/v1/enrollment-sessions/ENR-T2')).body.state === 'expired',
      { timeoutMs: 15_000, intervalMs: 250, what: 'expired' },
    );
    const c = SoftwareBand.generate();
    const late = await forward({
      sessionId: opened.body.sessionId,
      terminalId: 'ENR-T2',
      evidence: bandEvidence(c, opened.body.sessionId, 'ENR-T2'),
    });
    assert.equal(late.reason, 'session_expired');
    assert.equal(t2.enrollment, undefined, 'the endpoint stops expecting at the expiry by itself');
    assert.equal((await open('ENR-T2', 'bob')).status, 201, 'an expired session does not hold the terminal');
    await call('POST', '/v1/enrollment-sessions/ENR-T2/cancel', {});
  });

  it('enrolls UID badges through the API and by tap, with the warning, as their own kind', async () => {
    const api = await call('POST', '/v1/enrollments/uid-badges', {
      uid: '04A1B2C3D4E5F6',
      user: { sAMAccountName: 'alice' },
    });
    assert.equal(api.status, 201, JSON.stringify(api.body));
    assert.deepEqual(
      [api.body.bandId, api.body.kind, api.body.uid],
      ['uid-04a1b2c3d4e5f6', 'uid', '04a1b2c3d4e5f6'],
    );
    assert.equal(api.body.publicKey, undefined);
    assert.match(api.body.warning, /no proof of possession/);
    for (const uid of ['04a1b2', '04a1b2c3d4e5', 'zz a1b2c3']) {
      const bad = await call('POST', '/v1/enrollments/uid-badges', {
        uid,
        user: { sAMAccountName: 'alice' },
      });
      assert.deepEqual([bad.status, bad.body.error.field], [400, 'uid'], uid);
    }
    const dup = await call('POST', '/v1/enrollments/uid-badges', {
      uid: '04a1b2c3d4e5f6',
      user: { sAMAccountName: 'bob' },
    });
    assert.deepEqual([dup.status, dup.body.error.field], [409, 'uid']);
    const disguised = await call('POST', '/v1/enrollments', {
      bandId: 'uid-0badc0de',
      user: { sAMAccountName: 'bob' },
      publicKey: SoftwareBand.generate().privateJwk(),
    });
    assert.deepEqual([disguised.status, disguised.body.error.field], [400, 'bandId']);
    const rekey = await call('PUT', '/v1/enrollments/uid-04a1b2c3d4e5f6/key', {
      publicKey: { kty: 'EC', crv: 'P-256', x: 'A'.repeat(43), y: 'A'.repeat(43) },
    });
    assert.equal(rekey.status >= 400, true);

    // By tap: a bands-only session refuses a badge; a badge session enrolls it.
    const bandsOnly = await open('ENR-T1', 'bob');
    await waitFor(() => t1.enrollment?.sessionId === bandsOnly.body.sessionId, { what: 'armed' });
    const refused = await t1.enrollTap({ uid: '0a0b0c0d' });
    assert.deepEqual([refused.outcome, refused.reason], ['refused', 'kind_not_accepted']);
    await call('POST', '/v1/enrollment-sessions/ENR-T1/cancel', {});
    const badges = await open('ENR-T1', 'bob', { accept: ['uid'] });
    await waitFor(() => t1.enrollment?.sessionId === badges.body.sessionId, { what: 'armed' });
    const badge = await t1.enrollTap({ uid: '0A0B0C0D' });
    assert.equal(badge.outcome, 'enrolled', JSON.stringify(badge));
    assert.equal(badge.bandId, 'uid-0a0b0c0d');
    assert.match(badge.warning ?? '', /no proof of possession/);
    const stored = await call('GET', '/v1/enrollments/uid-0a0b0c0d');
    assert.deepEqual([stored.body.kind, stored.body.user.sAMAccountName], ['uid', 'bob']);
    const session = await call('GET', '/v1/enrollment-sessions/ENR-T1');
    assert.match(session.body.enrolled.warning ?? '', /no proof of possession/);
  });
});
