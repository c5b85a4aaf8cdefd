import { describe, expect, it } from "vitest";
import { InputError } from "../errors";
import { connectionFields, describeConnection, isConninfo, parseConninfo, redactUrl, toClientConfig, toConninfo, withAuthority, withDatabase } from "./connection";

describe("redactUrl", () => {
  it("hides the password and password-like parameters", () => {
    expect(redactUrl("postgres://app:hunter2@db:5432/app?sslpassword=x&sslmode=require")).toBe(
      "postgres://app:***@db:5432/app?sslpassword=***&sslmode=require",
    );
  });
  it("leaves URLs without a password alone", () => {
    expect(redactUrl("postgres://app@db/app")).toBe("postgres://app@db/app");
  });
  it("never echoes an unparseable URL, which may hold a password", () => {
    expect(redactUrl("not a url :hunter2")).toBe("(unparseable connection URL)");
  });
});

describe("describeConnection", () => {
  it("redacts discrete fields", () => {
    expect(describeConnection({ host: "db", user: "app", password: "hunter2", database: "app" })).toBe("postgres://app:***@db:5432/app");
  });
});

describe("toClientConfig", () => {
  it("rejects a non-postgres scheme naming the allowed ones", () => {
    expect(() => toClientConfig("mysql://x@y/z")).toThrow(InputError);
    expect(() => toClientConfig("mysql://x@y/z")).toThrow(/postgres:\/\/ or postgresql:\/\//);
  });
  it("rejects text that is not a URL", () => {
    expect(() => toClientConfig("db.example.com")).toThrow(/not a valid URL/);
  });
  it("maps discrete fields with defaults", () => {
    expect(toClientConfig({ host: "db", user: "u", database: "d" })).toMatchObject({ host: "db", port: 5432, user: "u", database: "d", connectionTimeoutMillis: 10000 });
  });
});

describe("libpq connection strings", () => {
  it("parses key=value pairs by libpq's rules: spaces around =, quoted values, backslash escapes", () => {
    expect(parseConninfo("host=db port=5433 dbname=app user=me")).toEqual({ host: "db", port: "5433", dbname: "app", user: "me" });
    expect(parseConninfo("  host = db   password = 'a b\\'c\\\\d'  ")).toEqual({ host: "db", password: "a b'c\\d" });
    expect(parseConninfo("password=x\\ y user=''")).toEqual({ password: "x y", user: "" });
    // Later keys win.
    expect(parseConninfo("user=a user=b")).toEqual({ user: "b" });
  });

  it("refuses malformed strings without echoing values", () => {
    expect(() => parseConninfo("host=db password='unterminated")).toThrow(/unterminated quoted value of password/);
    expect(() => parseConninfo("host=db password='unterminated")).not.toThrow(/unterminated'/);
    expect(() => parseConninfo("host db")).toThrow(/missing "=" after "host"/);
    expect(() => toClientConfig("host=db colour=blue")).toThrow(/unsupported parameter\(s\) colour; supported: host, port, dbname/);
    expect(() => toClientConfig("host=db port=http")).toThrow(/port must be a number/);
    expect(() => toClientConfig("host=db sslmode=maybe")).toThrow(/sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full/);
  });

  it("tells connection strings from URLs", () => {
    expect(isConninfo("host=db dbname=app")).toBe(true);
    expect(isConninfo("postgres://u@h/d?sslmode=require")).toBe(false);
    expect(isConninfo("db.example.com")).toBe(false);
  });

  it("maps to node-postgres fields, sslmode included", () => {
    expect(toClientConfig("host=db port=6432 dbname=app user=me password='p w' application_name=x connect_timeout=3")).toMatchObject({
      host: "db",
      port: 6432,
      database: "app",
      user: "me",
      password: "p w",
      application_name: "x",
      connectionTimeoutMillis: 3000,
      ssl: undefined,
    });
    expect(toClientConfig("host=db sslmode=require").ssl).toEqual({ rejectUnauthorized: false });
    expect(toClientConfig("host=db sslmode=verify-full").ssl).toBe(true);
    expect(toClientConfig("host=db sslmode=disable").ssl).toBeUndefined();
  });

  it("redacts the password, and points at another database", () => {
    expect(redactUrl("host=db password='hun ter2' user=me")).toBe("host='db' password=*** user='me'");
    expect(describeConnection("host=db password=hunter2")).not.toContain("hunter2");
    expect(redactUrl("host=db password='oops")).toBe("(unparseable connection string)");
    expect(withDatabase("host=db dbname=app password='a b'", "scratch")).toBe("host='db' dbname='scratch' password='a b'");
    expect(withDatabase("postgres://u:p@db:5432/app?sslmode=require", "scratch")).toBe("postgres://u:p@db:5432/scratch?sslmode=require");
    expect(connectionFields("host=db port=6432 dbname=app user=me")).toEqual({ host: "db", port: 6432, database: "app", user: "me", password: undefined });
    expect(connectionFields("postgres://me:pw@[::1]:6432/app")).toEqual({ host: "::1", port: 6432, database: "app", user: "me", password: "pw" });
  });
});

describe("withAuthority (a cluster's app Secret: uri and ca.crt)", () => {
  it("takes the URL apart and verifies the server against the given authority and the URL's host name", () => {
    const ca = "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n";
    const input = withAuthority("postgresql://app:p%40ss@orders-rw.shop.svc:5432/app?sslmode=verify-full", ca);
    expect(input).toEqual({ host: "orders-rw.shop.svc", port: 5432, user: "app", password: "p@ss", database: "app", sslmode: "verify-full", ca });
    expect(toClientConfig(input).ssl).toEqual({ ca, rejectUnauthorized: true, servername: "orders-rw.shop.svc" });
    // An address has no name to verify against: node checks the address itself.
    expect(toClientConfig({ ...input, host: "10.0.0.7" }).ssl).toEqual({ ca, rejectUnauthorized: true });
    // libpq's hostaddr: connect to the address, verify the name.
    const viaAddress = withAuthority("postgresql://app:pw@orders-rw.shop.svc:5432/app?hostaddr=10.0.0.7&sslmode=verify-full", ca);
    expect(toClientConfig(viaAddress)).toMatchObject({ host: "10.0.0.7", ssl: { ca, rejectUnauthorized: true, servername: "orders-rw.shop.svc" } });
    expect(() => withAuthority("mysql://x@y/z", ca)).toThrow(InputError);
  });
});

describe("client certificates and a server's connection string (ADR 0042)", () => {
  const pem = (what: string) => `-----BEGIN ${what}-----\nAAAA\n-----END ${what}-----\n`;
  const fields = { host: "10.0.0.7", port: 5432, user: "postgres", database: "app", sslmode: "verify-full" as const, ca: pem("CERTIFICATE"), servername: "shop-rw.ns.svc", cert: pem("CERTIFICATE"), key: pem("PRIVATE KEY") };

  it("fields with a client certificate connect verify-full with it: the authority, the verified name, the certificate and key; no password", () => {
    const c = toClientConfig(fields);
    expect(c.ssl).toEqual({ ca: fields.ca, rejectUnauthorized: true, servername: "shop-rw.ns.svc", cert: fields.cert, key: fields.key });
    expect(c.password).toBeUndefined();
    expect(c.host).toBe("10.0.0.7");
  });

  it("never shows the key or the certificate in the description", () => {
    const d = describeConnection(fields);
    expect(d).not.toContain("PRIVATE KEY");
    expect(d).not.toContain("AAAA");
    expect(d).toBe("postgres://postgres@10.0.0.7:5432/app");
  });

  it("a server's conninfo: host is the verified name, hostaddr the address, the files on that server, each value quoted", () => {
    const s = toConninfo({ host: "10.0.0.7", servername: "shop-rw.ns.svc", port: 5432, user: "streaming_replica", database: "my app", sslmode: "verify-full", files: { sslrootcert: "/tmp/setpoint/ca.crt", sslcert: "/tmp/setpoint/replication.crt", sslkey: "/tmp/it's/replication.key" } });
    expect(s).toBe(
      "host='shop-rw.ns.svc' hostaddr='10.0.0.7' port='5432' user='streaming_replica' dbname='my app' sslmode='verify-full' sslrootcert='/tmp/setpoint/ca.crt' sslcert='/tmp/setpoint/replication.crt' sslkey='/tmp/it\\'s/replication.key'",
    );
    expect(parseConninfo(s)).toMatchObject({ host: "shop-rw.ns.svc", hostaddr: "10.0.0.7", sslkey: "/tmp/it's/replication.key" });
  });

  it("fields without TLS stay as they were (host, port, user, password, dbname)", () => {
    expect(toConninfo({ host: "db", user: "app", password: "p w", database: "app" })).toBe("host='db' port='5432' user='app' password='p w' dbname='app'");
  });

  it("refuses PEM fields in a server's conninfo, naming the fix and never the material", () => {
    expect(() => toConninfo(fields)).toThrow(InputError);
    expect(() => toConninfo(fields)).toThrow(/files \(sslrootcert, sslcert, sslkey\)/);
    try {
      toConninfo(fields);
    } catch (err) {
      expect(String((err as Error).message)).not.toContain("AAAA");
    }
  });
});
