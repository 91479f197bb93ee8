import type { IncomingMessage } from 'node:http';

/**
 * DNS-rebinding protection (MCP transports spec, "Security warning"; the SDK's hostHeaderValidation
 * middleware compares hostnames the same port-agnostic way): the Host header must name this server,
 * and a browser's Origin, when sent, must be one of this server's own origins. A page on
 * evil.example.com whose name resolves to 127.0.0.1 sends Host: evil.example.com and is refused.
 */
export interface OriginPolicy {
  /** Lower-case hostnames, IPv6 in brackets ("[::1]"). */
  hostnames: Set<string>;
  /** Exact origins ("http://127.0.0.1:8787"). */
  origins: Set<string>;
}

export const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

export function hostnameOf(hostHeader: string): string | null {
  try {
    return new URL(`http://${hostHeader}`).hostname.toLowerCase();
  } catch {
    return null;
  }
}

/** The policy for a server bound on `port`, reachable also as `publicUrl` and any extra names. */
export function originPolicy(port: number, publicUrl: string | undefined, extraHosts: string[], extraOrigins: string[]): OriginPolicy {
  const hostnames = new Set(LOOPBACK_NAMES);
  const origins = new Set<string>();
  for (const h of LOOPBACK_NAMES) origins.add(`http://${h}:${port}`);
  if (publicUrl) {
    const u = new URL(publicUrl);
    hostnames.add(u.hostname.toLowerCase());
    origins.add(u.origin);
  }
  for (const h of extraHosts) {
    const name = hostnameOf(h);
    if (name) hostnames.add(name);
  }
  for (const o of extraOrigins) origins.add(new URL(o).origin);
  return { hostnames, origins };
}

/** null when the request may proceed, else the reason it is refused (answered 403). */
export function checkOrigin(req: IncomingMessage, policy: OriginPolicy): string | null {
  const host = req.headers.host;
  const name = host ? hostnameOf(host) : null;
  if (!name || !policy.hostnames.has(name)) return 'Host header does not name this server';
  const origin = req.headers.origin;
  if (origin !== undefined && !policy.origins.has(origin)) return 'Origin not allowed';
  return null;
}
