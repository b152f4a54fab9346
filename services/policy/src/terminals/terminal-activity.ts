import { type OnModuleDestroy } from '@nestjs/common';
import { EndpointEvents, TapDecided, type EndpointLifecycle, type TapOutcome } from '@tapgate/contracts';
import type { Messaging } from '@tapgate/messaging';

/** How many of a terminal's taps the Terminals page lists (the Audit page has the rest). */
export const LAST_TAPS = 5;

export interface TapSeen {
  at: string;
  kind: TapOutcome['kind'];
  bandId?: string;
  user?: string;
  outcome: TapOutcome['decision']['outcome'];
  reason?: string;
  deliveredTo: number;
}

export interface TerminalActivityView {
  connection: { state: 'online' | 'offline'; gateway: string; address: string; since: string };
  lastTap?: TapSeen;
  /** The newest taps, newest first (at most LAST_TAPS). */
  lastTaps?: TapSeen[];
}

/**
 * What the gateways announce about endpoints, kept in memory for the Terminals page: online/offline and
 * the last tap's decision. Only what this process heard since it started: an endpoint that connected
 * before has no entry until it reconnects or taps.
 */
export class TerminalActivity implements OnModuleDestroy {
  private readonly byTerminal = new Map<string, Partial<TerminalActivityView>>();
  private readonly stops: Array<() => void>;

  constructor(messaging: Messaging) {
    this.stops = [
      messaging.subscribe(EndpointEvents, (e) => this.onLifecycle(e)),
      messaging.subscribe(TapDecided, (o) => this.onTap(o)),
    ];
  }

  of(terminalId: string): Partial<TerminalActivityView> | undefined {
    return this.byTerminal.get(terminalId);
  }

  onModuleDestroy(): void {
    for (const stop of this.stops) stop();
  }

  private entry(terminalId: string): Partial<TerminalActivityView> {
    let e = this.byTerminal.get(terminalId);
    if (!e) this.byTerminal.set(terminalId, (e = {}));
    return e;
  }

  private onLifecycle(e: EndpointLifecycle): void {
    const cur = this.entry(e.terminalId);
    // An "offline" from one gateway must not hide that the endpoint came back on another meanwhile.
    if (cur.connection && Date.parse(cur.connection.since) > Date.parse(e.at)) return;
    cur.connection = { state: e.event, gateway: e.gateway, address: e.address, since: e.at };
  }

  private onTap(o: TapOutcome): void {
    const cur = this.entry(o.terminalId);
    const seen: TapSeen = {
      at: o.at,
      kind: o.kind,
      ...(o.bandId ? { bandId: o.bandId } : {}),
      ...(o.decision.user ? { user: o.decision.user.sAMAccountName } : {}),
      outcome: o.decision.outcome,
      ...(o.decision.reason ? { reason: o.decision.reason } : {}),
      deliveredTo: o.deliveredTo,
    };
    // Announcements from several gateways may arrive out of order: keep the list sorted by time, newest
    // first, a tap of the same time after those already listed. Inserted in place, not sorted again: this
    // runs for every tap of the platform, and the newest usually goes first after one comparison.
    const taps = cur.lastTaps ?? [];
    const t = Date.parse(seen.at);
    let i = 0;
    while (i < taps.length && Date.parse(taps[i].at) >= t) i++;
    cur.lastTaps = [...taps.slice(0, i), seen, ...taps.slice(i)].slice(0, LAST_TAPS);
    cur.lastTap = cur.lastTaps[0];
  }
}
