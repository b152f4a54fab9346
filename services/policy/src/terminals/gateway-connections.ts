import {
  GatewayConnections,
  addressToken,
  type BoundApplication,
  type ConnectedEndpoint,
  type GatewayConnectionsAnswer,
} from '@tapgate/contracts';
import { RequestError, type Messaging } from '@tapgate/messaging';

/** After a gateway's answer, how long to wait for another replica's before taking what came. */
const QUIET_MS = 250;
const TIMEOUT_MS = 3_000;

export type LiveEndpoint = ConnectedEndpoint & { gateway: string };
export type LiveApplication = BoundApplication & { gateway: string };

/** What the gateways hold now, or why that is not known. */
export type GatewaySnapshot =
  | {
      known: true;
      gateways: string[];
      truncated: boolean;
      endpoints: LiveEndpoint[];
      applications: LiveApplication[];
    }
  | { known: false; why: string };

/** A terminal's live state in a snapshot. */
export interface TerminalLive {
  /** Known: online iff some gateway holds its endpoint now. Unknown: the gateways could not be asked. */
  state: 'online' | 'offline' | 'unknown';
  endpoint?: LiveEndpoint;
  /** NEA clients bound to it: explicitly by terminal id, or implicitly by its endpoint's address. */
  applications: LiveApplication[];
}

/**
 * Asks every gateway replica which endpoints and NEA clients it holds (GatewayConnections) and collects
 * the answers. "No responders" means no gateway runs: everything is offline. Any other failure leaves
 * the state unknown rather than calling terminals offline.
 */
export async function askGateways(messaging: Messaging): Promise<GatewaySnapshot> {
  let answers: GatewayConnectionsAnswer[];
  try {
    answers = await messaging.requestAll(
      GatewayConnections,
      { v: 1 },
      { quietMs: QUIET_MS, timeoutMs: TIMEOUT_MS },
    );
  } catch (e) {
    if (e instanceof RequestError && e.kind === 'no_responders') {
      return { known: true, gateways: [], truncated: false, endpoints: [], applications: [] };
    }
    return { known: false, why: e instanceof Error ? e.message : String(e) };
  }
  return {
    known: true,
    gateways: answers.map((a) => a.gateway).sort(),
    truncated: answers.some((a) => a.truncated === true),
    endpoints: answers.flatMap((a) => a.endpoints.map((e) => ({ ...e, gateway: a.gateway }))),
    applications: answers.flatMap((a) => a.applications.map((x) => ({ ...x, gateway: a.gateway }))),
  };
}

/**
 * One terminal's view of a snapshot. `lastAddress` (its endpoint's address when it was last seen)
 * matches implicit bindings while the endpoint is away.
 */
export function liveOf(snapshot: GatewaySnapshot, terminalId: string, lastAddress?: string): TerminalLive {
  if (!snapshot.known) return { state: 'unknown', applications: [] };
  // Two gateways may briefly both hold one (the older socket is being replaced): the newest counts.
  const endpoint = snapshot.endpoints
    .filter((e) => e.terminalId === terminalId)
    .sort((a, b) => Date.parse(b.since) - Date.parse(a.since))[0];
  const address = endpoint?.address ?? lastAddress;
  const token = address !== undefined ? addressToken(address) : undefined;
  const applications = snapshot.applications.filter((a) =>
    a.binding === 'explicit'
      ? a.terminalId === terminalId
      : token !== undefined && addressToken(a.address) === token,
  );
  return { state: endpoint ? 'online' : 'offline', ...(endpoint ? { endpoint } : {}), applications };
}
