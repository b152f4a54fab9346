import { BlockList, isIP } from 'node:net';

/**
 * Decides which address a connection comes from. X-Forwarded-For is believed only when the TCP peer is
 * a configured trusted proxy; then the right-most address that is not itself a trusted proxy wins
 * (everything left of it could have been written by the client).
 */
export class ClientAddressResolver {
  private readonly trusted = new BlockList();
  private readonly any: boolean;

  constructor(trustedProxies: readonly string[]) {
    for (const entry of trustedProxies) {
      const [net, prefix] = entry.split('/');
      const family = isIP(net) === 6 ? 'ipv6' : 'ipv4';
      if (prefix === undefined) this.trusted.addAddress(net, family);
      else this.trusted.addSubnet(net, Number(prefix), family);
    }
    this.any = trustedProxies.length > 0;
  }

  private isTrusted(address: string): boolean {
    const plain = normalize(address);
    const family = isIP(plain);
    if (family === 0) return false;
    return this.trusted.check(plain, family === 6 ? 'ipv6' : 'ipv4');
  }

  /** True when the TCP peer is a configured trusted proxy (whose forwarded headers are believed). */
  throughTrustedProxy(peer: string | undefined): boolean {
    return this.any && this.isTrusted(normalize(peer ?? ''));
  }

  resolve(peer: string | undefined, forwardedFor: string | string[] | undefined): string {
    const direct = normalize(peer ?? '');
    if (!this.any || forwardedFor === undefined || !this.isTrusted(direct)) return direct;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
      .split(',')
      .map((h) => normalize(h.trim()))
      .filter((h) => isIP(h) !== 0);
    for (let i = hops.length - 1; i >= 0; i--) {
      if (!this.isTrusted(hops[i])) return hops[i];
    }
    return hops[0] ?? direct;
  }
}

/** Strips the IPv4-mapped IPv6 prefix so one machine has one address whatever stack it used. */
export function normalize(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
