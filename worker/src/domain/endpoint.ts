/**
 * A node's lease endpoint, `host:port`: where its agent serves leases over RESP. The worker never
 * connects to it (it only hands it to the renter inside the lease), so private and loopback
 * addresses are allowed: a renter on the same network, or the local demo, uses them.
 */

export interface Endpoint {
  host: string;
  port: number;
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function isHostname(h: string): boolean {
  if (h.length > 253) return false;
  const labels = h.split(".");
  // A name made only of digits and dots is a malformed IPv4 address, not a hostname.
  if (labels.every((l) => /^\d+$/.test(l))) return false;
  return labels.every((l) => LABEL.test(l));
}

function isIpv6(h: string): boolean {
  if (!/^[0-9a-f:.]+$/i.test(h) || h.length > 45) return false;
  let head = h;
  let groupsFromV4 = 0;
  const lastColon = h.lastIndexOf(":");
  if (h.includes(".")) {
    // An embedded IPv4 tail (::ffff:10.0.0.1) counts as two groups.
    if (!IPV4.test(h.slice(lastColon + 1))) return false;
    head = h.slice(0, lastColon + 1) + "0";
    groupsFromV4 = 1;
  }
  const halves = head.split("::");
  if (halves.length > 2) return false;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const parts = halves.flatMap(groups);
  if (!parts.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return false;
  const count = parts.length + groupsFromV4;
  return halves.length === 2 ? count <= 7 : count === 8;
}

/** Parses `host:port` (host: a hostname, an IPv4 address, or `[IPv6]`; port 1..65535), or null. */
export function parseEndpoint(value: string): Endpoint | null {
  const m = /^(\[([^\]]+)\]|[^:[\]]+):(\d{1,5})$/.exec(value);
  if (!m) return null;
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port < 1 || port > 65_535 || m[3] !== String(port)) return null;
  if (m[2] !== undefined) return isIpv6(m[2]) ? { host: `[${m[2].toLowerCase()}]`, port } : null;
  const host = m[1].toLowerCase();
  return IPV4.test(host) || isHostname(host) ? { host, port } : null;
}

/** The endpoint in its canonical form (lowercase host), as stored and handed to renters. */
export function formatEndpoint(e: Endpoint): string {
  return `${e.host}:${e.port}`;
}
