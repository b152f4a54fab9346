import type { BandPresence, PresenceLevel } from '@tapgate/contracts';

/** What the Lua scripts store and return for a band (cjson of the `snap` table). */
export interface Snapshot {
  level: PresenceLevel;
  auth: boolean;
  strongest: string;
  /** [terminalId, smoothed RSSI], strongest first. */
  terminals: Array<[string, number]>;
  /** ms of the last advert. */
  last: number;
}

/** A script's answer: whether this run changed the published snapshot, and the before/after. */
export interface Evaluation {
  changed: boolean;
  before?: Snapshot;
  after?: Snapshot;
}

export function parseEvaluation(reply: unknown): Evaluation {
  if (!Array.isArray(reply) || reply.length !== 3) throw new Error('presence script: unexpected reply');
  const [changed, before, after] = reply as [unknown, unknown, unknown];
  return {
    changed: changed === 1,
    before: typeof before === 'string' && before !== '' ? (JSON.parse(before) as Snapshot) : undefined,
    after: typeof after === 'string' && after !== '' ? (JSON.parse(after) as Snapshot) : undefined,
  };
}

const round1 = (v: number): number => Math.round(v * 10) / 10;

export function toBandPresence(bandId: string, s: Snapshot): BandPresence {
  return {
    bandId,
    presence: s.level,
    authenticated: s.auth,
    terminals: s.terminals.map(([terminalId, rssi]) => ({ terminalId, rssi: round1(rssi) })),
    lastSeen: new Date(s.last).toISOString(),
  };
}
