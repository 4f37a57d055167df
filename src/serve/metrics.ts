/** Counters and histograms in the Prometheus text exposition format (version 0.0.4), no dependency. */

type Labels = Record<string, string>;

function labelText(l: Labels): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

export class Counter {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    const v = this.values.get(key);
    if (v) v.value += by;
    else this.values.set(key, { labels, value: by });
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelText(labels))?.value ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const { labels, value } of this.values.values()) lines.push(`${this.name}${labelText(labels)} ${value}`);
    return lines.join('\n');
  }
}

export class Gauge {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number,
  ) {}
  render(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name} ${this.read()}`].join('\n');
  }
}

export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[],
  ) {
    this.counts = new Array(buckets.length).fill(0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) this.counts[i]++;
  }
  get total(): number {
    return this.count;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.buckets.forEach((b, i) => {
      lines.push(`${this.name}_bucket{le="${b}"} ${this.counts[i]}`);
    });
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`);
    return lines.join('\n');
  }
}

/** Everything `GET /metrics` shows. */
export class ServerMetrics {
  readonly requests = new Counter('loaa_http_requests_total', 'HTTP requests answered, by route and status code');
  readonly errors = new Counter('loaa_classify_errors_total', 'classify requests not answered 200, by reason');
  readonly latency = new Histogram(
    'loaa_classify_duration_seconds',
    'time from request to answer for POST /v1/classify',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  );
  readonly batchSize = new Histogram('loaa_batch_size', 'requests per model call', [1, 2, 4, 8, 16, 32, 64, 128]);
  private readonly gauges: Gauge[];
  constructor(queueDepth: () => number, inFlight: () => number) {
    this.gauges = [
      new Gauge('loaa_queue_depth', 'requests waiting for the model', queueDepth),
      new Gauge('loaa_in_flight_requests', 'requests accepted and not yet answered', inFlight),
      new Gauge('process_resident_memory_bytes', 'resident set size of the server process', () => process.memoryUsage.rss()),
    ];
  }
  render(): string {
    return `${[this.requests, this.errors, this.latency, this.batchSize, ...this.gauges].map((m) => m.render()).join('\n')}\n`;
  }
}
