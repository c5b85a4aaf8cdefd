import { describe, expect, it } from "vitest";
import { parseConninfo, toClientConfig, toConninfo } from "../../postgres/connection";
import { engineConnection, subscriptionConnection } from "./connections";
import type { SideEndpoint } from "./controller";

const tls = { ca: "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n", cert: "-----BEGIN CERTIFICATE-----\nOP\n-----END CERTIFICATE-----\n", key: "-----BEGIN PRIVATE KEY-----\nK\n-----END PRIVATE KEY-----\n", serverName: "shop-rw.ns.svc" };
const blue: SideEndpoint = { host: "10.1.0.4", port: 5432, password: "superuser-secret", database: "app", selector: {}, tls };

describe("the upgrade's connections (ADR 0042)", () => {
  it("the engine's session: verify-full against the authority and the rw name, the operator's certificate, no password", () => {
    const c = engineConnection(blue, "shop");
    expect(c).toMatchObject({ host: "10.1.0.4", user: "postgres", sslmode: "verify-full", servername: "shop-rw.ns.svc" });
    expect(c.password).toBeUndefined();
    expect(toClientConfig(c).ssl).toEqual({ ca: tls.ca, servername: "shop-rw.ns.svc", rejectUnauthorized: true, cert: tls.cert, key: tls.key });
  });

  it("a side whose cluster lets the superuser in with its password (pg_hba asks SCRAM, not a certificate): the password goes along, verify-full still", () => {
    const c = engineConnection({ ...blue, passwordOverNetwork: true }, "shop");
    expect(c).toMatchObject({ user: "postgres", password: "superuser-secret", sslmode: "verify-full", servername: "shop-rw.ns.svc" });
  });

  it("refuses a side without the operator's certificate rather than falling back to a password", () => {
    expect(() => engineConnection({ ...blue, tls: undefined }, "shop")).toThrow(/shop has no operator certificate yet/);
  });

  it("a subscription's conninfo: the replication role by certificate with the subscriber's files, the publisher's name verified at its address, no password", () => {
    const info = parseConninfo(toConninfo(subscriptionConnection(blue, "shop", "/tmp/setpoint")));
    expect(info).toEqual({
      host: "shop-rw.ns.svc",
      hostaddr: "10.1.0.4",
      port: "5432",
      user: "streaming_replica",
      dbname: "app",
      sslmode: "verify-full",
      sslrootcert: "/tmp/setpoint/ca.crt",
      sslcert: "/tmp/setpoint/replication.crt",
      sslkey: "/tmp/setpoint/replication.key",
    });
  });
});
