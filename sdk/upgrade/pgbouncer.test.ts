import { describe, expect, it } from "vitest";
import { InputError } from "../errors";
import { pgbouncerSwitch, type PgBouncerSwitchOptions } from "./pgbouncer";

const valid: PgBouncerSwitchOptions = {
  admin: "postgres://admin:hunter2@127.0.0.1:6432/pgbouncer",
  databasesFile: "/etc/pgbouncer/setpoint-databases.ini",
  databases: [{ name: "app", blue: "postgres://app@blue:5432/app", green: { host: "green", database: "app", user: "app", password: "s3cret" } }],
};

function refusal(overrides: Partial<PgBouncerSwitchOptions>): InputError {
  try {
    pgbouncerSwitch({ ...valid, ...overrides });
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  }
  throw new Error("accepted");
}

describe("pgbouncerSwitch options", () => {
  it("accepts valid options without connecting (connections are lazy)", () => {
    const sw = pgbouncerSwitch(valid);
    expect(sw.kind).toBe("pgbouncer");
    expect(sw.canPause).toBe(true);
  });

  it("requires the admin console database, and redacts the admin password when refusing", () => {
    const err = refusal({ admin: "postgres://admin:hunter2@127.0.0.1:6432/app" });
    expect(err.message).toMatch(/database "pgbouncer"; got "app"/);
    expect(err.message).not.toContain("hunter2");
    expect(refusal({ admin: { host: "h", user: "admin", database: "postgres" } }).propertyPath).toBe("admin");
  });

  it("refuses database names the admin console cannot take bare, duplicates and the console itself", () => {
    const db = valid.databases[0]!;
    expect(refusal({ databases: [{ ...db, name: "my-app" }] }).propertyPath).toBe("databases[0].name");
    expect(refusal({ databases: [{ ...db, name: "pgbouncer" }] }).message).toMatch(/admin console/);
    expect(refusal({ databases: [db, db] }).message).toMatch(/listed twice/);
    expect(refusal({ databases: [] }).propertyPath).toBe("databases");
  });

  it("refuses blue and green that PgBouncer could not tell apart, or that differ in having a forced user", () => {
    const db = valid.databases[0]!;
    expect(refusal({ databases: [{ ...db, green: "postgres://app:other@blue/app" }] }).message).toMatch(/both point at app@blue:5432\/app/);
    const mixed = refusal({ databases: [{ ...db, blue: "postgres://blue/app" }] });
    expect(mixed.message).toMatch(/cannot drop a forced user on RELOAD/);
    expect(mixed.message).not.toContain("s3cret");
  });
});
