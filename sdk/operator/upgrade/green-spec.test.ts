import { describe, expect, it } from "vitest";
import { parsePostgresClusterSpec } from "../../api/parse";
import { greenSpec } from "./controller";

const destination = { endpoint: "http://10.0.0.9:8333", bucket: "backups", credentials: { secretName: "s3" } };

describe("greenSpec", () => {
  it("is an empty cluster of the new major: blue's restore source, image and pooler stay behind", () => {
    const blue = parsePostgresClusterSpec({
      postgresVersion: 16,
      storage: { size: "10Gi" },
      instances: 3,
      image: "registry.local/postgres:16",
      pooler: { instances: 1 },
      parameters: { work_mem: "8MB" },
      bootstrap: { database: "shop", owner: "shopper", recovery: { source: destination, target: { time: "2026-12-05T10:00:00Z" } } },
      backup: { destination: { ...destination, prefix: "teams/shop" } },
    });
    const green = greenSpec(blue, "prod", "shop", 17);
    // Re-parsed as the API server's schema would: a valid spec.
    expect(parsePostgresClusterSpec(green)).toEqual(green);
    expect(green).toMatchObject({ postgresVersion: 17, instances: 3, parameters: { work_mem: "8MB" }, primaryUpdateStrategy: "unsupervised", bootstrap: { database: "shop", owner: "shopper" } });
    expect(green.bootstrap.recovery).toBeUndefined();
    expect(green.image).toBeUndefined();
    expect(green.pooler).toBeUndefined();
    // Green starts on timeline 1: its WAL goes under its own prefix, never into blue's.
    expect(green.backup?.destination.prefix).toBe("teams/shop-v17");
    expect(blue.backup?.destination.prefix).toBe("teams/shop");
    // Blue's authority, blue's Service names in green's certificates (ADR 0035).
    expect(green.tls?.authority).toEqual({ secretName: "shop-ca" });
    expect(green.tls?.serverNames).toEqual(expect.arrayContaining(["shop-rw", "shop-rw.prod.svc"]));
  });

  it("leaves a default backup prefix to green's own name, and a user's authority as it is", () => {
    const blue = parsePostgresClusterSpec({ postgresVersion: 16, storage: { size: "10Gi" }, backup: { destination }, tls: { authority: { secretName: "corp-ca" }, serverNames: ["db.example.com"] } });
    const green = greenSpec(blue, "prod", "shop", 17);
    expect(green.backup?.destination.prefix).toBeUndefined();
    expect(green.tls?.authority).toEqual({ secretName: "corp-ca" });
    expect(green.tls?.serverNames?.[0]).toBe("db.example.com");
  });

  it("makes green's standbys keep the rollback path's slot across a failover of green on 17+ (ADR 0050), unless blue's parameters say otherwise", () => {
    const blue = parsePostgresClusterSpec({ postgresVersion: 16, storage: { size: "10Gi" }, parameters: { work_mem: "8MB" } });
    expect(greenSpec(blue, "prod", "shop", 17).parameters).toEqual({ sync_replication_slots: "on", hot_standby_feedback: "on", work_mem: "8MB" });
    const off = parsePostgresClusterSpec({ postgresVersion: 17, storage: { size: "10Gi" }, parameters: { hot_standby_feedback: "off" } });
    expect(greenSpec(off, "prod", "shop", 18).parameters).toEqual({ sync_replication_slots: "on", hot_standby_feedback: "off" });
    // PostgreSQL 16 has no slot synchronization: nothing is added.
    const old = parsePostgresClusterSpec({ postgresVersion: 15, storage: { size: "10Gi" } });
    expect(greenSpec(old, "prod", "shop", 16).parameters).toBeUndefined();
  });
});
