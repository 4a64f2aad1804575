import type { MetricObjectWithValues, MetricValue, MetricValueWithName, Registry } from 'prom-client';

/**
 * Counters and histograms for what every request records (HTTP, JSON-RPC and tool series):
 * registered in the prom-client Registry like any metric, so /metrics, the pod-wide merge
 * (AggregatorRegistry) and the text format are prom-client's own. Only the recording differs.
 *
 * prom-client validates and hashes the labels on every `inc`/`observe`, even through a child
 * from `labels()`: about a microsecond each, and a REST `tools/call` records six of them. Here a
 * label set is resolved once into a series (MetricsService caches them), and recording is a few
 * additions. The values reach prom-client's shape only when /metrics is read.
 */
abstract class HotPathMetric<S> {
  readonly aggregator = 'sum' as const;
  protected readonly all: S[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    registers: Registry[],
  ) {
    // prom-client's Registry takes any metric with name, help, type, aggregator, get and reset.
    for (const registry of registers) registry.registerMetric(this as never);
  }

  abstract get(): Promise<MetricObjectWithValues<MetricValue<string>>>;
  abstract reset(): void;
  protected abstract create(labels: Readonly<Record<string, string>>): S;

  /** The series of one label set; keep it, and record on it (`inc` or `observe`). */
  series(labels: Record<string, string>): S {
    const series = this.create({ ...labels });
    this.all.push(series);
    return series;
  }

  /** The metric's header in prom-client's JSON shape (its `collect` hook: nothing to collect). */
  protected shape<V extends MetricValue<string>>(type: 'counter' | 'histogram', values: V[]): MetricObjectWithValues<V> {
    return { name: this.name, help: this.help, type: type as never, aggregator: this.aggregator, collect: () => undefined, values };
  }
}

export class CounterSeries {
  value = 0;
  constructor(readonly labels: Readonly<Record<string, string>>) {}
  inc(by = 1): void {
    this.value += by;
  }
}

export class HotPathCounter extends HotPathMetric<CounterSeries> {
  readonly type = 'counter' as const;

  protected create(labels: Readonly<Record<string, string>>): CounterSeries {
    return new CounterSeries(labels);
  }

  async get(): Promise<MetricObjectWithValues<MetricValue<string>>> {
    return this.shape(this.type, this.all.map((s) => ({ labels: { ...s.labels }, value: s.value })));
  }

  reset(): void {
    for (const s of this.all) s.value = 0;
  }
}

export class HistogramSeries {
  count = 0;
  sum = 0;
  /** Observations per bucket (not cumulative); the last one is above every bound. */
  readonly buckets: Float64Array;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.buckets = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.buckets[i]++;
    this.sum += value;
    this.count++;
  }
}

export class HotPathHistogram extends HotPathMetric<HistogramSeries> {
  readonly type = 'histogram' as const;

  constructor(
    name: string,
    help: string,
    private readonly bounds: readonly number[],
    registers: Registry[],
  ) {
    super(name, help, registers);
  }

  protected create(labels: Readonly<Record<string, string>>): HistogramSeries {
    return new HistogramSeries(labels, this.bounds);
  }

  /** Prometheus' histogram: cumulative `_bucket` per bound and `+Inf`, then `_sum` and `_count`. */
  async get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const values: MetricValueWithName<string>[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.all) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += s.buckets[i];
        values.push({ metricName: bucket, labels: { le, ...s.labels }, value: cumulative });
      });
      values.push({ metricName: bucket, labels: { le: '+Inf', ...s.labels }, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels: { ...s.labels }, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...s.labels }, value: s.count });
    }
    return this.shape(this.type, values);
  }

  reset(): void {
    for (const s of this.all) {
      s.buckets.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
