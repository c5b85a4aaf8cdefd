import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { InputError } from "../../errors";
import { describeTarget, quoteValue, renderDatabasesFile, renderEntry, resolveSettings, resolveTarget, writeFileAtomic } from "./pgbouncer-config";

describe("resolveTarget", () => {
  it("reads a URL, decoding user, password and database, with port 5432 by default", () => {
    expect(resolveTarget("postgres://app:p%40ss%20word@db.internal/my%20db", "blue")).toEqual({
      host: "db.internal",
      port: 5432,
      database: "my db",
      user: "app",
      password: "p@ss word",
    });
  });

  it("leaves the user unset when the URL has none (PgBouncer then logs in as the client's user)", () => {
    expect(resolveTarget("postgresql://[::1]:6543/app", "green")).toEqual({ host: "::1", port: 6543, database: "app", user: undefined, password: undefined });
  });

  it("reads a libpq connection string the same way, and refuses parameters PgBouncer cannot take", () => {
    expect(resolveTarget("host=db.internal dbname='my db' user=app password='p@ss word'", "blue")).toEqual({
      host: "db.internal",
      port: 5432,
      database: "my db",
      user: "app",
      password: "p@ss word",
    });
    expect(() => resolveTarget("host=db dbname=app sslmode=require", "blue")).toThrow(/blue has parameter\(s\) sslmode; a PgBouncer target takes only host, port, dbname, user and password/);
  });

  it("refuses query parameters, other schemes, missing fields and line breaks, naming the property", () => {
    const refusal = (t: Parameters<typeof resolveTarget>[0]): InputError => {
      try {
        resolveTarget(t, "databases[0].blue");
      } catch (err) {
        return err as InputError;
      }
      throw new Error("accepted");
    };
    expect(refusal("postgres://h/db?sslmode=require").message).toMatch(/query parameters/);
    expect(refusal("mysql://h/db").message).toMatch(/scheme "mysql:"/);
    expect(refusal({ host: "h", database: "" }).propertyPath).toBe("databases[0].blue.database");
    expect(refusal({ host: "h", database: "d", port: 0 }).propertyPath).toBe("databases[0].blue.port");
    expect(refusal({ host: "h", database: "d", password: "a\nb" }).propertyPath).toBe("databases[0].blue.password");
    expect(refusal({ host: "h", database: "d", password: "a\\'b" }).message).toMatch(/backslash followed by a single quote/);
    expect(refusal({ host: "h", database: "d", password: "a\nb" }).message).not.toContain("a\nb");
  });
});

describe("rendering", () => {
  it("quotes values PgBouncer's way: single quotes, embedded quote doubled, backslash literal", () => {
    expect(quoteValue("it's")).toBe("'it''s'");
    expect(quoteValue("a\\b c")).toBe("'a\\b c'");
  });

  it("renders an entry with the forced user, password and extra settings", () => {
    const t = resolveTarget({ host: "10.0.0.1", port: 5433, database: "app", user: "app", password: "s'cret" }, "blue");
    expect(renderEntry(t, { pool_size: 20, pool_mode: "session" })).toBe(
      "host='10.0.0.1' port=5433 dbname='app' user='app' password='s''cret' pool_size=20 pool_mode='session'",
    );
  });

  it("renders the whole file for one side, starting its own [databases] section", () => {
    const db = {
      name: "app",
      blue: resolveTarget("postgres://h1:5432/app", "blue"),
      green: resolveTarget("postgres://h2:5432/app", "green"),
      settings: {},
    };
    expect(renderDatabasesFile([db], "green")).toBe(
      "; Written by the Setpoint traffic switch: traffic goes to green.\n" +
        "; Rewritten whole at every switch; edits here are lost.\n" +
        "[databases]\n" +
        "app = host='h2' port=5432 dbname='app'\n",
    );
  });

  it("describes a target without its password", () => {
    expect(describeTarget(resolveTarget("postgres://u:hunter2@h:1/d", "blue"))).toBe("u@h:1/d");
  });

  it("refuses settings that would override the targets or are malformed", () => {
    expect(() => resolveSettings({ host: "x" }, "databases[0].settings")).toThrow(/comes from the blue and green targets/);
    expect(() => resolveSettings({ "Pool-Size": 1 }, "databases[0].settings")).toThrow(/not a PgBouncer database parameter name/);
    expect(() => resolveSettings({ pool_size: Number.NaN }, "databases[0].settings")).toThrow(/finite number/);
    expect(resolveSettings(undefined, "s")).toEqual({});
  });
});

describe("writeFileAtomic", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("creates the file 0600, replaces it keeping its mode, and leaves no temporary file", async () => {
    dir = mkdtempSync(join(tmpdir(), "setpoint-atomic-"));
    const file = join(dir, "databases.ini");
    await writeFileAtomic(file, "one\n");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    writeFileSync(file, "old\n");
    chmodSync(file, 0o640);
    await writeFileAtomic(file, "two\n");
    expect(readFileSync(file, "utf8")).toBe("two\n");
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir)).toEqual(["databases.ini"]);
  });

  it("fails cleanly when the directory does not exist", async () => {
    dir = mkdtempSync(join(tmpdir(), "setpoint-atomic-"));
    await expect(writeFileAtomic(join(dir, "missing", "f.ini"), "x")).rejects.toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
  });
});
