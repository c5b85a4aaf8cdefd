import { describe, expect, it } from "vitest";
import { InputError } from "../errors";
import { dueRun, nextRun, parseCron, previousRun } from "./cron";

const at = (iso: string): Date => new Date(iso);
const next = (expr: string, after: string): string => nextRun(parseCron(expr), at(after)).toISOString();

describe("cron parsing", () => {
  it("expands numbers, ranges, steps, lists and names", () => {
    const c = parseCron("*/15 1-3,22 1,15 jan-mar mon-fri");
    expect([...c.minutes]).toEqual([0, 15, 30, 45]);
    expect([...c.hours]).toEqual([1, 2, 3, 22]);
    expect([...c.daysOfMonth]).toEqual([1, 15]);
    expect([...c.months]).toEqual([1, 2, 3]);
    expect([...c.daysOfWeek]).toEqual([1, 2, 3, 4, 5]);
    expect([...parseCron("5/20 * * * 7").minutes]).toEqual([5, 25, 45]);
    // 7 and 0 are both Sunday.
    expect([...parseCron("0 0 * * 7").daysOfWeek]).toEqual([0]);
    expect(parseCron("0 3 ? * *").dayOfMonthAny).toBe(true);
  });

  it("refuses malformed expressions, naming the field", () => {
    const cases: [string, RegExp][] = [
      ["", /is not a five-field cron expression/],
      ["0 3 * *", /is not a five-field cron expression/],
      ["0 3 * * * *", /is not a five-field cron expression/],
      ["60 3 * * *", /minute field "60": 60 is out of range/],
      ["0 24 * * *", /hour field "24": 24 is out of range/],
      ["0 3 0 * *", /day-of-month field "0": 0 is out of range/],
      ["0 3 * 13 *", /month field "13": 13 is out of range/],
      ["0 3 * * 8", /day-of-week field "8": 8 is out of range/],
      ["*/0 * * * *", /step "0" must be a whole number from 1/],
      ["5-1 * * * *", /range 5-1 runs backwards/],
      ["0 3 L * *", /day-of-month field "L": "L" is not a number/],
      ["0 3 * * mon#2", /day-of-week field "mon#2"/],
      ["1,,2 * * * *", /empty list item/],
    ];
    for (const [expr, message] of cases) {
      expect(() => parseCron(expr), expr).toThrow(InputError);
      expect(() => parseCron(expr), expr).toThrow(message);
    }
  });
});

describe("cron times (UTC)", () => {
  it("finds the next run", () => {
    expect(next("0 3 * * *", "2026-12-05T02:59:59Z")).toBe("2026-12-05T03:00:00.000Z");
    expect(next("0 3 * * *", "2026-12-05T03:00:00Z")).toBe("2026-12-06T03:00:00.000Z");
    expect(next("*/15 * * * *", "2026-12-05T10:07:30Z")).toBe("2026-12-05T10:15:00.000Z");
    expect(next("30 23 31 12 *", "2026-12-05T00:00:00Z")).toBe("2026-12-31T23:30:00.000Z");
    expect(next("0 0 29 2 *", "2026-03-01T00:00:00Z")).toBe("2028-02-29T00:00:00.000Z");
    // 2026-12-05 is a Saturday: next Monday.
    expect(next("0 4 * * mon", "2026-12-05T12:00:00Z")).toBe("2026-12-07T04:00:00.000Z");
    // Both day fields restricted: either matches (the 10th, or a Monday).
    expect(next("0 0 10 * 1", "2026-12-05T12:00:00Z")).toBe("2026-12-07T00:00:00.000Z");
    expect(next("0 0 10 * 1", "2026-12-07T12:00:00Z")).toBe("2026-12-10T00:00:00.000Z");
  });

  it("refuses a schedule that never runs", () => {
    expect(() => nextRun(parseCron("0 0 31 2 *"), at("2026-01-01T00:00:00Z"))).toThrow(/never runs/);
    expect(previousRun(parseCron("0 0 30 2 *"), at("2026-01-01T00:00:00Z"))).toBeUndefined();
  });

  it("finds the previous run, and is the inverse of next", () => {
    expect(previousRun(parseCron("0 3 * * *"), at("2026-12-05T02:59:00Z"))?.toISOString()).toBe("2026-12-04T03:00:00.000Z");
    expect(previousRun(parseCron("0 3 * * *"), at("2026-12-05T03:00:30Z"))?.toISOString()).toBe("2026-12-05T03:00:00.000Z");
    expect(previousRun(parseCron("0 0 1 jan *"), at("2026-12-05T00:00:00Z"))?.toISOString()).toBe("2026-01-01T00:00:00.000Z");
    for (const expr of ["*/7 * * * *", "15 2,14 * * *", "0 0 1,15 * *", "45 23 * * sun", "0 12 10 * 1"]) {
      const c = parseCron(expr);
      let t = at("2026-02-25T00:00:00Z");
      for (let i = 0; i < 20; i++) {
        const n = nextRun(c, t);
        expect(previousRun(c, n)?.toISOString(), expr).toBe(n.toISOString());
        expect(previousRun(c, new Date(n.getTime() - 60_000))!.getTime(), expr).toBeLessThan(n.getTime());
        t = n;
      }
    }
  });

  it("makes at most one catch-up run after downtime, and none twice", () => {
    const c = parseCron("0 * * * *");
    // Down from 01:30 to 05:10: four runs missed, one is due (the latest, 05:00).
    expect(dueRun(c, at("2026-12-05T01:30:00Z"), at("2026-12-05T05:10:00Z"))?.toISOString()).toBe("2026-12-05T05:00:00.000Z");
    // Acted on 05:00: nothing more is due until 06:00.
    expect(dueRun(c, at("2026-12-05T05:00:00Z"), at("2026-12-05T05:59:59Z"))).toBeUndefined();
    expect(dueRun(c, at("2026-12-05T05:00:00Z"), at("2026-12-05T06:00:00Z"))?.toISOString()).toBe("2026-12-05T06:00:00.000Z");
    // Created after the last run: nothing is due.
    expect(dueRun(c, at("2026-12-05T05:20:00Z"), at("2026-12-05T05:40:00Z"))).toBeUndefined();
  });
});
