import { describe, expect, it } from "vitest";
import { FakeClock } from "./clock";

describe("FakeClock", () => {
  it("fires due timers in due order, ties in creation order, with now() at each due time", () => {
    const clock = new FakeClock(1000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => fired.push(`c@${clock.now()}`), 20);
    clock.setTimeout(() => fired.push("late"), 31);
    clock.advance(30);
    expect(fired).toEqual(["a@1010", "b@1020", "c@1020"]);
    expect(clock.now()).toBe(1030);
    expect(clock.pendingTimers()).toBe(1);
    expect(clock.nextDue()).toBe(1031);
  });

  it("fires timers created by callbacks within the same advance", () => {
    const clock = new FakeClock();
    const fired: number[] = [];
    clock.setTimeout(() => {
      fired.push(clock.now());
      clock.setTimeout(() => fired.push(clock.now()), 5);
    }, 5);
    clock.advance(10);
    expect(fired).toEqual([5, 10]);
  });

  it("does not fire cleared timers and treats a negative delay as zero", () => {
    const clock = new FakeClock();
    const fired: string[] = [];
    const h = clock.setTimeout(() => fired.push("cleared"), 1);
    clock.clearTimeout(h);
    clock.setTimeout(() => fired.push("now"), -5);
    clock.advance(0);
    expect(fired).toEqual(["now"]);
    expect(() => clock.advance(-1)).toThrow(RangeError);
  });
});
