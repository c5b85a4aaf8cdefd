/**
 * A small in-memory metrics registry (counters, gauges, histograms with labels) rendered in the
 * Prometheus text exposition format 0.0.4. Enough for the controller runtime's own metrics
 * without a dependency; an HTTP endpoint serves {@link MetricsRegistry.render}.
 */

/** Label values by label name. */
export type Labels = Readonly<Record<string, string>>;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Latency buckets in seconds, from 5 ms to 60 s. */
export const DEFAULT_DURATION_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  readonly labelNames: readonly string[];
  lines(): string[];
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function renderLabels(pairs: readonly (readonly [string, string])[]): string {
  if (pairs.length === 0) return "";
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`;
}

abstract class Labelled<S> implements Metric {
  abstract readonly type: "counter" | "gauge" | "histogram";
  private readonly series = new Map<string, { labels: readonly (readonly [string, string])[]; state: S }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  protected state(labels: Labels): S {
    const extra = Object.keys(labels).filter((k) => !this.labelNames.includes(k));
    if (extra.length > 0) {
      throw new RangeError(`metric ${this.name}: unknown label(s) ${extra.join(", ")}; allowed: ${this.labelNames.join(", ") || "none"}`);
    }
    const pairs = this.labelNames.map((n) => [n, labels[n] ?? ""] as const);
    const id = JSON.stringify(pairs);
    let s = this.series.get(id);
    if (s === undefined) {
      s = { labels: pairs, state: this.initial() };
      this.series.set(id, s);
    }
    return s.state;
  }

  protected abstract initial(): S;
  protected abstract render(labels: readonly (readonly [string, string])[], state: S): string[];

  lines(): string[] {
    return [...this.series.values()].flatMap((s) => this.render(s.labels, s.state));
  }

  /**
   * Drops every series whose labels include all of `match` (e.g. `{ namespace, cluster }` of a
   * deleted cluster), so a gone object stops being exported. @returns how many were dropped.
   */
  remove(match: Labels): number {
    let n = 0;
    for (const [id, s] of this.series) {
      if (s.labels.every(([k, v]) => match[k] === undefined || match[k] === v) && Object.keys(match).every((k) => this.labelNames.includes(k))) {
        this.series.delete(id);
        n++;
      }
    }
    return n;
  }
}

// A metric with one number per series (a counter or a gauge), rendered as one sample line.
abstract class SingleValue extends Labelled<{ value: number }> {
  /** Current value of the series with `labels`. */
  get(labels: Labels = {}): number {
    return this.state(labels).value;
  }
  protected initial(): { value: number } {
    return { value: 0 };
  }
  protected render(labels: readonly (readonly [string, string])[], s: { value: number }): string[] {
    return [`${this.name}${renderLabels(labels)} ${formatValue(s.value)}`];
  }
}

/** A monotonically increasing count. */
export class Counter extends SingleValue {
  readonly type = "counter";
  /**
   * Adds `by` to the series with `labels`.
   * @throws {RangeError} when `by` is negative or a label is not declared.
   */
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new RangeError(`counter ${this.name}: increment must be >= 0, got ${by}`);
    this.state(labels).value += by;
  }
}

/** A value that goes up and down. */
export class Gauge extends SingleValue {
  readonly type = "gauge";
  /** Sets the series with `labels` to `value`. */
  set(labels: Labels, value: number): void {
    this.state(labels).value = value;
  }
  /** Adds `by` (may be negative) to the series with `labels`. */
  add(labels: Labels, by: number): void {
    this.state(labels).value += by;
  }
}

interface HistogramState {
  counts: number[];
  sum: number;
  count: number;
}

/** Observations counted into cumulative buckets, with their sum and count. */
export class Histogram extends Labelled<HistogramState> {
  readonly type = "histogram";
  /** Upper bounds, ascending, without `+Inf`. */
  readonly buckets: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames);
    const sorted = [...buckets].sort((a, b) => a - b);
    if (sorted.length === 0 || sorted.some((b, i) => !Number.isFinite(b) || (i > 0 && b === sorted[i - 1]))) {
      throw new RangeError(`histogram ${name}: buckets must be distinct finite numbers`);
    }
    this.buckets = sorted;
  }

  /** Records one observation in the series with `labels`. */
  observe(labels: Labels, value: number): void {
    const s = this.state(labels);
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  /** Number of observations of the series with `labels`. */
  count(labels: Labels = {}): number {
    return this.state(labels).count;
  }

  protected initial(): HistogramState {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }

  protected render(labels: readonly (readonly [string, string])[], s: HistogramState): string[] {
    const out = this.buckets.map(
      (b, i) => `${this.name}_bucket${renderLabels([...labels, ["le", formatValue(b)]])} ${s.counts[i]}`,
    );
    out.push(`${this.name}_bucket${renderLabels([...labels, ["le", "+Inf"]])} ${s.count}`);
    out.push(`${this.name}_sum${renderLabels(labels)} ${formatValue(s.sum)}`);
    out.push(`${this.name}_count${renderLabels(labels)} ${s.count}`);
    return out;
  }
}

/** A set of metrics with unique names, rendered together. */
export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();

  /** Returns the counter `name`, creating it on first use. @throws {RangeError} on a name clash or invalid name. */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.register(name, "counter", () => new Counter(name, help, labelNames), labelNames);
  }

  /** Returns the gauge `name`, creating it on first use. @throws {RangeError} on a name clash or invalid name. */
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.register(name, "gauge", () => new Gauge(name, help, labelNames), labelNames);
  }

  /**
   * Returns the histogram `name`, creating it on first use.
   * @param buckets upper bounds in the observed unit. @default DEFAULT_DURATION_BUCKETS
   * @throws {RangeError} on a name clash, an invalid name or invalid buckets.
   */
  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets = DEFAULT_DURATION_BUCKETS): Histogram {
    return this.register(name, "histogram", () => new Histogram(name, help, labelNames, buckets), labelNames);
  }

  /** All metrics in the Prometheus text format, ending with a newline. */
  render(): string {
    const out: string[] = [];
    for (const m of this.metrics.values()) {
      out.push(`# HELP ${m.name} ${escapeHelp(m.help)}`, `# TYPE ${m.name} ${m.type}`, ...m.lines());
    }
    return out.length === 0 ? "" : `${out.join("\n")}\n`;
  }

  private register<M extends Metric>(name: string, type: Metric["type"], make: () => M, labelNames: readonly string[]): M {
    const existing = this.metrics.get(name);
    if (existing !== undefined) {
      if (existing.type !== type || existing.labelNames.join(",") !== labelNames.join(",")) {
        throw new RangeError(`metric ${name} is already registered as a ${existing.type} with labels [${existing.labelNames.join(", ")}]`);
      }
      return existing as M;
    }
    if (!NAME.test(name)) throw new RangeError(`invalid metric name ${JSON.stringify(name)}: must match ${NAME}`);
    for (const l of labelNames) {
      if (!LABEL.test(l) || l.startsWith("__") || l === "le") throw new RangeError(`metric ${name}: invalid label name ${JSON.stringify(l)}`);
    }
    const m = make();
    this.metrics.set(name, m);
    return m;
  }
}

/** The process-wide registry the controllers register into by default. */
export const defaultRegistry = new MetricsRegistry();
