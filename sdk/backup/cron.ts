import { InputError } from "../errors";

/**
 * Five-field cron schedules (minute hour day-of-month month day-of-week), evaluated in UTC, for
 * scheduled base backups. Fields take `*`, `?` (as `*`), numbers, ranges `a-b`, steps `*\/n` and
 * `a-b/n`, lists `a,b`, month names (`jan`) and day names (`sun`; 0 and 7 are Sunday). As in
 * Vixie cron, when both day fields are restricted a day matching either one runs.
 */
export interface CronSchedule {
  readonly expression: string;
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly daysOfMonth: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  /** 0 = Sunday. */
  readonly daysOfWeek: ReadonlySet<number>;
  readonly dayOfMonthAny: boolean;
  readonly dayOfWeekAny: boolean;
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
  /** First value a name stands for. */
  nameBase?: number;
}

const FIELDS: FieldSpec[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day-of-month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTHS, nameBase: 1 },
  { name: "day-of-week", min: 0, max: 7, names: DAYS, nameBase: 0 },
];

/**
 * Parses a five-field cron expression.
 * @throws {InputError} naming the field and the part of it that is wrong, with the allowed range.
 */
export function parseCron(expression: string, source = "schedule"): CronSchedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5 || parts[0] === "") {
    throw new InputError(`${source}: "${expression}" is not a five-field cron expression (minute hour day-of-month month day-of-week), e.g. "0 3 * * *"`, { propertyPath: source });
  }
  const sets = parts.map((p, i) => parseField(p, FIELDS[i]!, expression, source));
  const dow = new Set([...sets[4]!].map((d) => (d === 7 ? 0 : d)));
  return {
    expression,
    minutes: sets[0]!,
    hours: sets[1]!,
    daysOfMonth: sets[2]!,
    months: sets[3]!,
    daysOfWeek: dow,
    dayOfMonthAny: parts[2] === "*" || parts[2] === "?",
    dayOfWeekAny: parts[4] === "*" || parts[4] === "?",
  };
}

function parseField(text: string, f: FieldSpec, expression: string, source: string): Set<number> {
  const fail = (why: string): never => {
    throw new InputError(`${source}: "${expression}": ${f.name} field "${text}": ${why} (allowed: ${f.min}-${f.max}${f.names ? ` or ${f.names[0]}-${f.names[f.names.length - 1]}` : ""}, *, ranges a-b, steps /n and lists a,b)`, { propertyPath: source });
  };
  const value = (v: string): number => {
    const lower = v.toLowerCase();
    const named = f.names?.indexOf(lower) ?? -1;
    if (named >= 0) return named + (f.nameBase ?? 0);
    if (!/^\d{1,2}$/.test(v)) fail(`"${v}" is not a number${f.names ? " or a name" : ""}`);
    const n = Number(v);
    if (n < f.min || n > f.max) fail(`${n} is out of range`);
    return n;
  };
  const out = new Set<number>();
  for (const item of text.split(",")) {
    if (item === "") fail("empty list item");
    const [range, stepText, extra] = item.split("/");
    if (extra !== undefined) fail(`"${item}" has more than one step`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d{1,2}$/.test(stepText) || Number(stepText) === 0) fail(`step "${stepText}" must be a whole number from 1`);
      step = Number(stepText);
    }
    let lo: number;
    let hi: number;
    if (range === "*" || range === "?") {
      lo = f.min;
      hi = f.max === 7 ? 6 : f.max;
    } else if (range!.includes("-")) {
      const [a, b, more] = range!.split("-");
      if (more !== undefined || a === "" || b === "") fail(`"${range}" is not a range a-b`);
      lo = value(a!);
      hi = value(b!);
      if (lo > hi) fail(`range ${range} runs backwards`);
    } else {
      lo = value(range!);
      // `5/15` means from 5 to the end in steps of 15.
      hi = stepText !== undefined ? (f.max === 7 ? 6 : f.max) : lo;
    }
    for (let n = lo; n <= hi; n += step) out.add(n);
  }
  return out;
}

function dayMatches(c: CronSchedule, d: Date): boolean {
  const dom = c.daysOfMonth.has(d.getUTCDate());
  const dow = c.daysOfWeek.has(d.getUTCDay());
  if (c.dayOfMonthAny && c.dayOfWeekAny) return true;
  if (c.dayOfMonthAny) return dow;
  if (c.dayOfWeekAny) return dom;
  return dom || dow;
}

/**
 * The first scheduled minute strictly after `after` (UTC).
 * @throws {InputError} when the schedule never runs (e.g. `0 0 31 2 *`), found within 5 years.
 */
export function nextRun(c: CronSchedule, after: Date): Date {
  const t = new Date(after.getTime());
  t.setUTCSeconds(0, 0);
  t.setUTCMinutes(t.getUTCMinutes() + 1);
  const limit = after.getTime() + 5 * 366 * 86_400_000;
  while (t.getTime() <= limit) {
    if (!c.months.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0);
      continue;
    }
    if (!dayMatches(c, t)) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0);
      continue;
    }
    if (!c.hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0);
      continue;
    }
    if (!c.minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1);
      continue;
    }
    return t;
  }
  throw new InputError(`schedule "${c.expression}" never runs (no matching minute within five years)`, { propertyPath: "schedule" });
}

/**
 * The last scheduled minute at or before `atOrBefore` (UTC), or undefined when there is none
 * within five years before it.
 */
export function previousRun(c: CronSchedule, atOrBefore: Date): Date | undefined {
  const t = new Date(atOrBefore.getTime());
  t.setUTCSeconds(0, 0);
  const limit = atOrBefore.getTime() - 5 * 366 * 86_400_000;
  while (t.getTime() >= limit) {
    if (!c.months.has(t.getUTCMonth() + 1)) {
      // The last minute of the previous month.
      t.setUTCDate(0);
      t.setUTCHours(23, 59);
      continue;
    }
    if (!dayMatches(c, t)) {
      t.setUTCDate(t.getUTCDate() - 1);
      t.setUTCHours(23, 59);
      continue;
    }
    if (!c.hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() - 1, 59);
      continue;
    }
    if (!c.minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() - 1);
      continue;
    }
    return t;
  }
  return undefined;
}

/**
 * Which run is due now: the latest scheduled minute in `(since, now]`, or undefined when none.
 * Runs missed while the operator was down collapse into this one (at most one catch-up).
 * `since` is the last scheduled time acted on (or the schedule's creation).
 */
export function dueRun(c: CronSchedule, since: Date, now: Date): Date | undefined {
  const last = previousRun(c, now);
  return last !== undefined && last.getTime() > since.getTime() ? last : undefined;
}
