// One simulated terminal: an endpoint socket and an NEA socket bound to it, with heartbeats, taps and the
// accounting both scenarios report. k6/experimental/websockets runs on the VU's event loop, so one VU holds
// many terminals (k6's own VU cost, not the gateway, would otherwise limit the connection count).
import { check } from 'k6';
import { WebSocket } from 'k6/experimental/websockets';
import { Counter, Trend } from 'k6/metrics';
import { clearInterval, setInterval, setTimeout } from 'k6/timers';
import {
  ENDPOINT_PATH,
  advertsFrame,
  bandIdFor,
  challengeRequestFrame,
  decodeFrame,
  endpointHello,
  importBandKey,
  neaHello,
  pingFrame,
  signTap,
  tapFrame,
  terminalIdFor,
} from './protocol.js';

// Date.now() has 1 ms resolution in k6: latencies are whole milliseconds.
export const metrics = {
  tapToNea: new Trend('tapgate_tap_to_nea_ms', true),
  tapResult: new Trend('tapgate_tap_result_ms', true),
  heartbeatRtt: new Trend('tapgate_heartbeat_rtt_ms', true),
  tapsSent: new Counter('tapgate_taps_sent'),
  tapsDelivered: new Counter('tapgate_taps_delivered'),
  tapsLost: new Counter('tapgate_taps_lost'),
  tapResultsMissing: new Counter('tapgate_tap_results_missing'),
  tapsUndelivered: new Counter('tapgate_taps_undelivered'),
  tapsNotReady: new Counter('tapgate_taps_not_ready'),
  tapsNotSent: new Counter('tapgate_taps_not_sent'),
  tapsUnsigned: new Counter('tapgate_taps_unsigned'),
  decisions: new Counter('tapgate_tap_decisions'),
  welcomed: new Counter('tapgate_ws_welcomed'),
  unexpectedClose: new Counter('tapgate_ws_unexpected_close'),
  errorFrames: new Counter('tapgate_ws_error_frames'),
  heartbeatMissed: new Counter('tapgate_heartbeat_missed'),
};

// WebSocket.OPEN. Compared as a number: k6 v0.50 exposes readyState as an object (typeof "object",
// only loosely equal to 1), so a strict `=== 1` never holds there and every send would be skipped.
const OPEN = 1;

/** A socket that says hello, waits for `welcome`, then pings every heartbeatIntervalMs. */
class ProtocolSocket {
  constructor(role, url, hello, onFrame) {
    this.role = role;
    this.url = url;
    this.hello = hello;
    this.onFrame = onFrame;
    this.welcome = null;
    this.closing = false;
    this.closed = false;
    this.pingSentAt = 0;
    this.pingSeq = 0;
    this.heartbeat = null;
  }

  open() {
    this.ws = new WebSocket(this.url);
    this.ws.onopen = () => this.ws.send(this.hello);
    this.ws.onmessage = (event) => this.receive(event.data);
    this.ws.onerror = () => metrics.errorFrames.add(1, { role: this.role, code: 'socket_error' });
    this.ws.onclose = () => {
      this.closed = true;
      this.stopHeartbeat();
      if (!this.closing) metrics.unexpectedClose.add(1, { role: this.role });
      this.closing = true;
    };
  }

  receive(text) {
    const frame = decodeFrame(text);
    if (frame === null) {
      metrics.errorFrames.add(1, { role: this.role, code: 'undecodable' });
      return;
    }
    if (frame.type === 'welcome' && this.welcome === null) {
      this.welcome = frame.data;
      metrics.welcomed.add(1, { role: this.role });
      this.startHeartbeat(frame.data.heartbeatIntervalMs);
    } else if (frame.type === 'pong') {
      if (this.pingSentAt > 0) metrics.heartbeatRtt.add(Date.now() - this.pingSentAt, { role: this.role });
      this.pingSentAt = 0;
    } else if (frame.type === 'error') {
      metrics.errorFrames.add(1, { role: this.role, code: String(frame.data && frame.data.code) });
    }
    this.onFrame(frame);
  }

  startHeartbeat(intervalMs) {
    const every = Number(intervalMs) > 0 ? Number(intervalMs) : 15000;
    this.heartbeat = setInterval(() => {
      // A ping still unanswered when the next one is due counts as missed.
      if (this.pingSentAt > 0) metrics.heartbeatMissed.add(1, { role: this.role });
      if (this.send(pingFrame('hb' + this.pingSeq++))) this.pingSentAt = Date.now();
    }, every);
  }

  stopHeartbeat() {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  /** Whether the socket is open, so a frame sent now goes out. */
  isOpen() {
    return !this.closed && !!this.ws && Number(this.ws.readyState) === OPEN;
  }

  /** Sends `text` if the socket is open; false when it was not sent. */
  send(text) {
    if (!this.isOpen()) return false;
    this.ws.send(text);
    return true;
  }

  close() {
    this.closing = true;
    this.stopHeartbeat();
    if (this.ws && !this.closed) this.ws.close();
  }
}

// Presence forgets a band after 60 s without adverts; real endpoints relay them far more often.
const ADVERT_EVERY_MS = 10000;
const ADVERT_RSSI = -60;
// A challenge this close to expiry is not used: the tap might reach the gateway after it.
const CHALLENGE_MARGIN_MS = 2000;

export class Terminal {
  /**
   * `credentials`: {terminalId: credential} for gateways that require endpoint credentials.
   * `bandKeys`: {bandId: private JWK} of bands setup() enrolled; with one, taps carry proofs.
   */
  constructor(index, settings, credentials, bandKeys, appCredential) {
    this.index = index;
    this.settings = settings;
    this.terminalId = terminalIdFor(settings.prefix, index);
    this.bandId = bandIdFor(settings.prefix, index);
    this.credential = credentials[this.terminalId];
    this.appCredential = appCredential;
    this.bandKeyJwk = bandKeys ? bandKeys[this.bandId] : undefined;
    this.signingKey = null;
    // The newest unused challenge {challenge, expiresAt (ms)}; single use, so a tap takes it.
    this.challenge = undefined;
    this.challengeWaiters = {};
    this.challengeSeq = 0;
    this.advertTimer = null;
    this.tapSeq = 0;
    // tapId -> ms when sent, until the NEA client gets the tap / until the endpoint gets tap.result.
    this.pending = {};
    this.awaitingResult = {};
    this.tapTimer = null;
    this.nea = null;
    this.endpoint = null;
  }

  /** NEA first: a tap is only delivered to NEA clients already bound to the terminal. */
  connect() {
    if (this.bandKeyJwk && this.signingKey === null) this.signingKey = importBandKey(this.bandKeyJwk);
    this.nea = new ProtocolSocket(
      'nea',
      this.settings.neaUrl + '/',
      neaHello(this.terminalId, this.appCredential),
      (f) => this.onNeaFrame(f),
    );
    this.nea.open();
  }

  /** Both sockets welcomed and still open. */
  ready() {
    const up = (s) => s !== null && !!s.welcome && s.isOpen();
    return up(this.nea) && up(this.endpoint);
  }

  onNeaFrame(frame) {
    if (frame.type === 'welcome' && this.endpoint === null) {
      this.endpoint = new ProtocolSocket(
        'endpoint',
        this.settings.url + ENDPOINT_PATH,
        endpointHello(this.terminalId, this.credential),
        (f) => this.onEndpointFrame(f),
      );
      this.endpoint.open();
    } else if (frame.type === 'tap' && frame.data) {
      const sentAt = this.pending[frame.data.tapId];
      if (sentAt === undefined) return;
      delete this.pending[frame.data.tapId];
      metrics.tapToNea.add(Date.now() - sentAt);
      metrics.tapsDelivered.add(1);
      const decision = frame.data.decision || {};
      metrics.decisions.add(1, {
        outcome: String(decision.outcome),
        reason: String(decision.reason || 'none'),
      });
    }
  }

  onEndpointFrame(frame) {
    if (frame.type === 'welcome') {
      this.offerChallenge(frame.data && frame.data.challenge);
      if (this.bandKeyJwk) this.startAdverts();
    } else if (frame.type === 'challenge') {
      const waiter = frame.ref !== undefined ? this.challengeWaiters[frame.ref] : undefined;
      if (waiter && frame.data && typeof frame.data.challenge === 'string') {
        delete this.challengeWaiters[frame.ref];
        waiter(frame.data.challenge);
      } else {
        this.offerChallenge(frame.data);
      }
    } else if (frame.type === 'tap.result' && frame.data) {
      this.offerChallenge(frame.data.challenge);
      const sentAt = this.awaitingResult[frame.data.tapId];
      if (sentAt !== undefined) {
        delete this.awaitingResult[frame.data.tapId];
        metrics.tapResult.add(Date.now() - sentAt);
      }
      if (frame.data.deliveredTo === 0) {
        const reason = frame.data.decision && frame.data.decision.reason;
        metrics.tapsUndelivered.add(1, { reason: String(reason || 'none') });
      }
    }
  }

  offerChallenge(issued) {
    if (!issued || typeof issued.challenge !== 'string') return;
    const expiresAt = Date.parse(issued.expiresAt);
    this.challenge = { challenge: issued.challenge, expiresAt: Number.isFinite(expiresAt) ? expiresAt : 0 };
  }

  /** A fresh challenge, used up; asks the gateway for one when none is. undefined after a timeout. */
  takeChallenge() {
    const held = this.challenge;
    this.challenge = undefined;
    if (held && held.expiresAt - CHALLENGE_MARGIN_MS > Date.now()) return Promise.resolve(held.challenge);
    const ref = 'c' + this.challengeSeq++;
    return new Promise((resolve) => {
      if (!this.endpoint.send(challengeRequestFrame(ref))) {
        resolve(undefined);
        return;
      }
      this.challengeWaiters[ref] = resolve;
      setTimeout(() => {
        if (this.challengeWaiters[ref] === undefined) return;
        delete this.challengeWaiters[ref];
        resolve(undefined);
      }, this.settings.tapTimeoutMs);
    });
  }

  /** The band on its wrist, authenticated, next to this terminal: what presence needs for a grant. */
  startAdverts() {
    const advertise = () =>
      this.endpoint.send(advertsFrame(this.bandId, ADVERT_RSSI, new Date().toISOString()));
    advertise();
    if (this.advertTimer === null) this.advertTimer = setInterval(advertise, ADVERT_EVERY_MS);
  }

  async tap() {
    if (!this.ready()) {
      metrics.tapsNotReady.add(1);
      return;
    }
    const tapId = this.terminalId + '-' + this.tapSeq++;
    let proof;
    let timestamp = Date.now();
    if (this.signingKey !== null) {
      // Signing (and any challenge round trip) happens before sentAt: the latency is the gateway's.
      const [privateKey, challenge] = await Promise.all([this.signingKey, this.takeChallenge()]);
      timestamp = Date.now();
      proof = await signTap({
        privateKey: privateKey,
        challenge: challenge,
        terminalId: this.terminalId,
        bandId: this.bandId,
        timestamp: timestamp,
      });
      if (proof === undefined) metrics.tapsUnsigned.add(1);
      if (!this.ready()) {
        metrics.tapsNotReady.add(1);
        return;
      }
    }
    const frame = tapFrame({
      tapId: tapId,
      kind: 'nfc',
      bandId: this.bandId,
      at: new Date(timestamp).toISOString(),
      proof: proof,
    });
    const sentAt = Date.now();
    // Counted as sent (and awaited) only once it went out; one that could not go is a failure of its own.
    if (!this.endpoint.send(frame)) {
      metrics.tapsNotSent.add(1);
      return;
    }
    this.pending[tapId] = sentAt;
    this.awaitingResult[tapId] = sentAt;
    metrics.tapsSent.add(1);
  }

  startTapping(periodMs) {
    this.tapTimer = setInterval(() => this.tap(), periodMs);
    this.tap();
  }

  stopTapping() {
    if (this.tapTimer !== null) clearInterval(this.tapTimer);
    this.tapTimer = null;
  }

  /** Taps older than the timeout are lost (never reached the NEA client) or unanswered (no tap.result). */
  sweep(now, timeoutMs) {
    for (const tapId of Object.keys(this.pending)) {
      if (now - this.pending[tapId] > timeoutMs) {
        delete this.pending[tapId];
        metrics.tapsLost.add(1);
      }
    }
    for (const tapId of Object.keys(this.awaitingResult)) {
      if (now - this.awaitingResult[tapId] > timeoutMs) {
        delete this.awaitingResult[tapId];
        metrics.tapResultsMissing.add(1);
      }
    }
  }

  /** Final accounting, then a normal close of both sockets. */
  close() {
    this.stopTapping();
    if (this.advertTimer !== null) clearInterval(this.advertTimer);
    this.advertTimer = null;
    const lost = Object.keys(this.pending).length;
    if (lost > 0) metrics.tapsLost.add(lost);
    const unanswered = Object.keys(this.awaitingResult).length;
    if (unanswered > 0) metrics.tapResultsMissing.add(unanswered);
    this.pending = {};
    this.awaitingResult = {};
    check(this, {
      'nea welcomed': (t) => t.nea !== null && !!t.nea.welcome,
      'endpoint welcomed': (t) => t.endpoint !== null && !!t.endpoint.welcome,
      'nea still open at the end': (t) => t.nea !== null && !t.nea.closed,
      'endpoint still open at the end': (t) => t.endpoint !== null && !t.endpoint.closed,
    });
    if (this.endpoint) this.endpoint.close();
    if (this.nea) this.nea.close();
  }
}

/** Terminal indexes [first, last) that VU number `vu` (1-based) drives. */
export function terminalsOfVu(vu, settings) {
  const first = (vu - 1) * settings.terminalsPerVu;
  return { first: first, last: Math.min(first + settings.terminalsPerVu, settings.endpoints) };
}
