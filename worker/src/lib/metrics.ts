/**
 * Request metrics for /metrics in Prometheus text format. Counters live in the isolate that served
 * the requests (Workers has no shared process memory); a scrape therefore shows one isolate's
 * view, which is what Prometheus' `rate()` over many scrapes expects anyway. Gauges of business
 * state (contracts, nodes) are read from D1 at scrape time, so they are global.
 */
const BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

interface Series {
  count: number;
  sumMs: number;
  buckets: number[];
}

const requests = new Map<string, Series>();

export function recordRequest(method: string, route: string, status: number, ms: number) {
  const key = `${method}\u0000${route}\u0000${status}`;
  let s = requests.get(key);
  if (!s) {
    s = { count: 0, sumMs: 0, buckets: BUCKETS_MS.map(() => 0) };
    requests.set(key, s);
  }
  s.count++;
  s.sumMs += ms;
  for (let i = 0; i < BUCKETS_MS.length; i++) if (ms <= BUCKETS_MS[i]) s.buckets[i]++;
}

const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

export function renderMetrics(
  gauges: { name: string; help: string; samples: { labels: Record<string, string>; value: number }[] }[],
): string {
  const out: string[] = [];
  out.push("# HELP mnemo_http_requests_total HTTP requests served, by method, route and status.");
  out.push("# TYPE mnemo_http_requests_total counter");
  for (const [key, s] of requests) {
    const [method, route, status] = key.split("\u0000");
    out.push(`mnemo_http_requests_total{method="${esc(method)}",route="${esc(route)}",status="${status}"} ${s.count}`);
  }
  out.push("# HELP mnemo_http_request_duration_ms Time to answer a request, in milliseconds.");
  out.push("# TYPE mnemo_http_request_duration_ms histogram");
  for (const [key, s] of requests) {
    const [method, route, status] = key.split("\u0000");
    const l = `method="${esc(method)}",route="${esc(route)}",status="${status}"`;
    BUCKETS_MS.forEach((b, i) => {
      out.push(`mnemo_http_request_duration_ms_bucket{${l},le="${b}"} ${s.buckets[i]}`);
    });
    out.push(`mnemo_http_request_duration_ms_bucket{${l},le="+Inf"} ${s.count}`);
    out.push(`mnemo_http_request_duration_ms_sum{${l}} ${s.sumMs}`);
    out.push(`mnemo_http_request_duration_ms_count{${l}} ${s.count}`);
  }
  for (const g of gauges) {
    out.push(`# HELP ${g.name} ${g.help}`);
    out.push(`# TYPE ${g.name} gauge`);
    for (const smp of g.samples) {
      const labels = Object.entries(smp.labels)
        .map(([k, v]) => `${k}="${esc(v)}"`)
        .join(",");
      out.push(`${g.name}${labels ? `{${labels}}` : ""} ${smp.value}`);
    }
  }
  return out.join("\n") + "\n";
}
