import { describe, expect, it } from "vitest";
import { MetricsRegistry } from "./metrics";

describe("MetricsRegistry", () => {
  it("renders counters, gauges and cumulative histograms in Prometheus text format", () => {
    const r = new MetricsRegistry();
    const c = r.counter("x_total", "Things.\nCounted", ["kind"]);
    c.inc({ kind: 'a"b\\c' });
    c.inc({ kind: "plain" }, 2);
    r.gauge("x_depth", "Depth.").set({}, 7);
    const h = r.histogram("x_seconds", "Time.", [], [0.1, 1]);
    h.observe({}, 0.05);
    h.observe({}, 0.5);
    h.observe({}, 3);
    expect(r.render()).toBe(
      [
        "# HELP x_total Things.\\nCounted",
        "# TYPE x_total counter",
        'x_total{kind="a\\"b\\\\c"} 1',
        'x_total{kind="plain"} 2',
        "# HELP x_depth Depth.",
        "# TYPE x_depth gauge",
        "x_depth 7",
        "# HELP x_seconds Time.",
        "# TYPE x_seconds histogram",
        'x_seconds_bucket{le="0.1"} 1',
        'x_seconds_bucket{le="1"} 2',
        'x_seconds_bucket{le="+Inf"} 3',
        "x_seconds_sum 3.55",
        "x_seconds_count 3",
        "",
      ].join("\n"),
    );
  });

  it("returns the same metric for the same name and refuses clashes and bad names", () => {
    const r = new MetricsRegistry();
    expect(r.counter("a_total", "A", ["x"])).toBe(r.counter("a_total", "A", ["x"]));
    expect(() => r.gauge("a_total", "A", ["x"])).toThrow(/already registered as a counter/);
    expect(() => r.counter("bad-name", "B")).toThrow(/invalid metric name/);
    expect(() => r.histogram("h", "H", ["le"])).toThrow(/invalid label name/);
    expect(() => r.counter("a_total", "A", ["x"]).inc({ y: "1" })).toThrow(/unknown label/);
    expect(() => r.counter("a_total", "A", ["x"]).inc({}, -1)).toThrow(/>= 0/);
  });
});

describe("Labelled.remove", () => {
  it("drops exactly the series whose labels include the match, so a gone object stops being exported", () => {
    const r = new MetricsRegistry();
    const g = r.gauge("y_bytes", "Bytes.", ["namespace", "cluster", "instance"]);
    g.set({ namespace: "a", cluster: "db", instance: "db-1" }, 1);
    g.set({ namespace: "a", cluster: "db", instance: "db-2" }, 2);
    g.set({ namespace: "b", cluster: "db", instance: "db-1" }, 3);
    expect(g.remove({ namespace: "a", instance: "db-1" })).toBe(1);
    expect(r.render()).not.toContain('namespace="a",cluster="db",instance="db-1"');
    expect(g.remove({ namespace: "a", cluster: "db" })).toBe(1);
    expect(r.render()).toContain('y_bytes{namespace="b",cluster="db",instance="db-1"} 3');
    expect(g.remove({ nope: "x" })).toBe(0);
    expect(g.get({ namespace: "b", cluster: "db", instance: "db-1" })).toBe(3);
  });
});
