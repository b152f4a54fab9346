// The SDK copies its frame types so browsers need nothing else; @tapgate/contracts stays the source of
// truth. These checks fail when the two drift apart, at compile time (types) and at run time (frames).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  RefusalReason as ContractReasons,
  CloseCode,
  HEARTBEAT_DEADLINE_INTERVALS as CONTRACT_HEARTBEAT_DEADLINE,
  MAX_RECONNECT_HINT_MS as CONTRACT_MAX_HINT,
  parseReconnectHint as contractHint,
  TERMINAL_ID_PATTERN as CONTRACT_TERMINAL_ID,
  UserStatus as ContractUserStatus,
  decodeClientFrame,
  decodeServerFrame,
  encodeServerFrame,
  type ClientMessageData,
  type ServerMessageData,
  type ServerMessageType,
} from '@tapgate/contracts';
import {
  TERMINAL_ID_PATTERN,
  encodeFrame,
  parseServerFrame,
  type ClientFrames,
  type RefusalReason,
  type ServerFrames,
  type UserStatus,
} from './frames';
import { HEARTBEAT_DEADLINE_INTERVALS } from './client';
import {
  MAX_RECONNECT_HINT_MS,
  SERVICE_RESTART,
  TRY_AGAIN_LATER,
  parseReconnectHint,
} from './reconnect-hint';

// ----- compile time: what the contracts produce fits the SDK's types, and what the SDK sends fits theirs.
type Assert<T extends true> = T;
type Fits<A, B> = [A] extends [B] ? true : false;
type ServerFits = { [T in keyof ServerFrames]: Fits<ServerMessageData<T>, ServerFrames[T]> };
// Client frames are decoded strictly: a field the contracts do not know would be refused by the server.
type NoExtraKeys<A, B> = [A] extends [undefined]
  ? true
  : [Exclude<keyof NonNullable<A>, keyof NonNullable<B>>] extends [never]
    ? true
    : false;
type Contract<T extends keyof ClientFrames> = T extends 'hello'
  ? Extract<ClientMessageData<'hello'>, { role: 'nea' }>
  : ClientMessageData<T>;
type ClientFits = {
  [T in keyof ClientFrames]: Fits<ClientFrames[T], Contract<T>> extends true
    ? NoExtraKeys<ClientFrames[T], Contract<T>>
    : false;
};
export type Checks = [
  Assert<ServerFits[keyof ServerFits]>,
  Assert<ClientFits[keyof ClientFits]>,
  Assert<Fits<RefusalReason, ContractReasons>>,
  Assert<Fits<ContractReasons, RefusalReason>>,
  Assert<Fits<UserStatus, ContractUserStatus>>,
  Assert<Fits<ContractUserStatus, UserStatus>>,
];

const at = '2026-11-29T16:31:39.123Z';
const decision = {
  outcome: 'refused',
  reason: 'same_signer',
  message: 'A second person must sign.',
  user: { sAMAccountName: 'alice', displayName: 'Alice Able' },
  status: 'active',
  identifiedBy: 'proof',
} as const;

const serverSamples: { [T in keyof ServerFrames]: ServerMessageData<T> } = {
  welcome: {
    sessionId: 's-1',
    protocol: 1,
    protocolMinor: 1,
    heartbeatIntervalMs: 15_000,
    maxFrameBytes: 65_536,
    binding: { mode: 'explicit', terminalId: 'LINE1-T04' },
  },
  pong: undefined,
  tap: { tapId: 't-1', terminalId: 'LINE1-T04', kind: 'nfc', bandId: 'band-A', decision, at },
  presence: {
    terminalId: 'LINE1-T04',
    bandId: 'band-A',
    presence: 'likely',
    previous: 'yes',
    authenticated: true,
    rssi: -60,
    at,
  },
  'login.pending': { requestId: 'r-1', expiresAt: at },
  'login.result': {
    requestId: 'r-1',
    outcome: 'granted',
    decision: { ...decision, outcome: 'granted', reason: undefined },
    assertion: 'a.b.c',
  },
  'esign.opened': { ceremonyId: 'c-1', expiresAt: at },
  'esign.signature': { ceremonyId: 'c-1', signer: 2, outcome: 'refused', decision },
  'esign.closed': { ceremonyId: 'c-1', state: 'completed', assertions: ['a.b.c', 'd.e.f'] },
  error: {
    code: 'conflict',
    message: 'a login is already waiting',
    issues: [{ path: 'data', message: 'x' }],
  },
};

const clientSamples: { [T in keyof ClientFrames]: ClientFrames[T] } = {
  hello: {
    role: 'nea',
    terminalId: 'LINE1-T04',
    credential: 'app-secret',
    app: { name: 'POMSnet', version: '2024.1' },
    authUrl: 'https://mes.example.com/NES',
  },
  ping: undefined,
  'presence.subscribe': undefined,
  'login.request': { audience: 'pomsnet', timeoutMs: 60_000 },
  'login.cancel': undefined,
  'esign.open': {
    reason: 'Edit equipment',
    comment: 'PM-42',
    secondSignerRequired: true,
    audience: 'pomsnet',
  },
  'esign.cancel': { ceremonyId: 'c-1' },
};

describe('SDK frames against @tapgate/contracts', () => {
  it('every server frame the contracts encode parses in the SDK to the same data', () => {
    for (const type of Object.keys(serverSamples) as Array<keyof ServerFrames>) {
      const data = serverSamples[type];
      const text = encodeServerFrame(type as ServerMessageType, data as never, 'ref-1');
      const contract = decodeServerFrame(text);
      assert.ok(
        !(contract instanceof Error),
        `${type}: ${contract instanceof Error ? contract.message : ''}`,
      );
      const sdk = parseServerFrame(text);
      assert.ok(!('ignored' in sdk), `${type} was ignored: ${'ignored' in sdk ? sdk.ignored : ''}`);
      assert.deepEqual(sdk, {
        type,
        ref: 'ref-1',
        data: (JSON.parse(JSON.stringify(data ?? null)) as unknown) ?? undefined,
      });
      assert.deepEqual(sdk.data, contract.data, type);
    }
  });

  it('every client frame the SDK encodes passes the contracts decoder unchanged', () => {
    for (const type of Object.keys(clientSamples) as Array<keyof ClientFrames>) {
      const decoded = decodeClientFrame(encodeFrame(type, clientSamples[type] as never, 'r1'));
      assert.ok(decoded.ok, `${type}: ${decoded.ok ? '' : JSON.stringify(decoded.error)}`);
      assert.equal(decoded.message.type, type);
      assert.equal(decoded.message.ref, 'r1');
      assert.deepEqual(decoded.message.data, clientSamples[type]);
    }
  });

  it('frames the contracts reject, and that the SDK would act on, are ignored by the SDK', () => {
    const bad: Array<[keyof ServerFrames, unknown]> = [
      ['login.result', { requestId: 'r', outcome: 'maybe' }],
      ['login.result', { outcome: 'granted', assertion: 'x' }],
      ['esign.signature', { ceremonyId: 'c', signer: 3, outcome: 'granted', decision, assertion: 'x' }],
      ['esign.closed', { ceremonyId: 'c', state: 'completed', assertions: [1] }],
      ['tap', { tapId: 't', terminalId: 'T', decision: { outcome: 'yes' } }],
      ['welcome', { sessionId: 's', heartbeatIntervalMs: -1 }],
      ['error', { message: 'no code' }],
    ];
    for (const [type, data] of bad) {
      const text = JSON.stringify({ v: 1, type, data });
      assert.ok(decodeServerFrame(text) instanceof Error, `contracts reject ${text}`);
      assert.ok('ignored' in parseServerFrame(text), `SDK ignores ${text}`);
    }
  });

  it('enumerations and patterns are the same as the contracts', () => {
    assert.equal(TERMINAL_ID_PATTERN.source, CONTRACT_TERMINAL_ID.source);
    const sdkReasons: Record<RefusalReason, true> = {
      no_listener: true,
      unknown_band: true,
      band_suspended: true,
      bad_signature: true,
      challenge_replayed: true,
      challenge_expired: true,
      challenge_unknown: true,
      wrong_terminal: true,
      band_not_authenticated: true,
      presence_unknown: true,
      ble_not_allowed: true,
      uid_not_allowed: true,
      user_not_active: true,
      status_unavailable: true,
      status_not_configured: true,
      same_signer: true,
      identity_changed: true,
      decision_too_old: true,
      internal_error: true,
    };
    assert.deepEqual(Object.keys(sdkReasons).sort(), Object.values(ContractReasons).sort());
    assert.deepEqual(ContractUserStatus.options.length, 10);
  });
});

describe('the reconnect hint reads as in the contracts', () => {
  it('has the same close code, bound and heartbeat deadline', () => {
    assert.equal(SERVICE_RESTART, CloseCode.ServiceRestart);
    assert.equal(TRY_AGAIN_LATER, CloseCode.TryAgainLater);
    assert.equal(MAX_RECONNECT_HINT_MS, CONTRACT_MAX_HINT);
    assert.equal(HEARTBEAT_DEADLINE_INTERVALS, CONTRACT_HEARTBEAT_DEADLINE);
  });

  it('parses every sample alike', () => {
    const reasons = [
      '{"reconnectAfterMs":0}',
      '{"reconnectAfterMs":1234}',
      '{"reconnectAfterMs":99999999}',
      '{"reconnectAfterMs":50,"extra":true}',
      '{"reconnectAfterMs":-1}',
      '{"reconnectAfterMs":1.5}',
      '{"reconnectAfterMs":"5"}',
      '{}',
      '[]',
      'null',
      '',
      'server shutting down',
      `{"reconnectAfterMs":1,"pad":"${'x'.repeat(130)}"}`,
    ];
    for (const code of [1000, 1001, 1012, 1013, 4001]) {
      for (const reason of reasons) {
        assert.equal(parseReconnectHint(code, reason), contractHint(code, reason), `${code} ${reason}`);
      }
    }
  });
});
