import { describe, expect, it } from "vitest";
import { parsePostgresClusterSpec } from "../../api/parse";
import {
  poolerAdminSecret,
  poolerAuthSecret,
  poolerConfigMap,
  poolerIni,
  poolerPod,
  poolerService,
  poolerSettings,
  poolerSettingsHash,
  poolerUserlist,
  sameSetting,
  settingsNotLoaded,
  POOLER_ADMIN_USER,
  scramVerifier,
  userlistChangeVisible,
  userlistEntries,
  type PoolerSpec,
} from "./pooler";

const cluster = { apiVersion: "setpoint.dev/v1alpha1", kind: "PostgresCluster", metadata: { name: "shop", namespace: "prod", uid: "u-1" } };
const pooler = (extra: object = {}): PoolerSpec => parsePostgresClusterSpec({ postgresVersion: 17, storage: { size: "1Gi" }, pooler: extra }).pooler!;
const verifier = (name: string) => scramVerifier(`${name}-password`, Buffer.alloc(16, 1));

describe("scramVerifier", () => {
  it("computes PostgreSQL's SCRAM-SHA-256 verifier (RFC 7677 test vector password, PostgreSQL's format)", () => {
    // The verifier PostgreSQL 17 stores for password 'pencil' with this salt and 4096 iterations.
    const salt = Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64");
    expect(scramVerifier("pencil", salt)).toBe("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=");
  });
});

describe("poolerIni", () => {
  it("points every database at the primary, with the pool settings, parameters over the operator's defaults", () => {
    const ini = poolerIni(pooler({ poolMode: "session", defaultPoolSize: 5, parameters: { server_login_retry: "3" } }), "10.0.0.7", ["postgres", "app"]);
    expect(ini.split("\n")).toEqual(
      expect.arrayContaining([
        "[databases]",
        "app = host=10.0.0.7 port=5432 dbname=app",
        "postgres = host=10.0.0.7 port=5432 dbname=postgres",
        "[pgbouncer]",
        "listen_port = 6432",
        "auth_type = scram-sha-256",
        "auth_file = /etc/setpoint/pooler-auth/userlist.txt",
        `admin_users = ${POOLER_ADMIN_USER}`,
        "pool_mode = session",
        "default_pool_size = 5",
        "max_client_conn = 1000",
        "server_login_retry = 3",
        "unix_socket_dir = ",
      ]),
    );
    expect(ini.indexOf("app =")).toBeLessThan(ini.indexOf("postgres ="));
  });

  it("reaches the instances over TLS 1.3 verified against the cluster's authority (ADR 0035), and requires TLS 1.3 of its clients with its own certificate (ADR 0044)", () => {
    const ini = poolerIni(pooler(), "10.0.0.7", ["app"]);
    expect(ini.split("\n")).toEqual(expect.arrayContaining(["server_tls_sslmode = verify-ca", "server_tls_ca_file = /etc/setpoint/pooler-tls/ca.crt", "server_tls_protocols = tlsv1.3"]));
    expect(ini.split("\n")).toEqual(
      expect.arrayContaining(["client_tls_sslmode = require", "client_tls_cert_file = /etc/setpoint/pooler-tls/tls.crt", "client_tls_key_file = /etc/setpoint/pooler-tls/tls.key", "client_tls_protocols = tlsv1.3", "client_tls_ca_file = /etc/setpoint/pooler-tls/ca.crt"]),
    );
    expect(() => pooler({ parameters: { client_tls_sslmode: "disable" } })).toThrow(/may only set/);
    // The spec cannot turn it off (the operator owns the rest of pgbouncer.ini).
    expect(() => pooler({ parameters: { server_tls_sslmode: "disable" } })).toThrow(/may only set/);
    // The pooler's own certificate Secret (the authority, its certificate and key): never the instances' key.
    const pod = poolerPod(cluster, pooler(), 1, "x");
    expect(pod.spec?.volumes?.find((v) => v.name === "ca")?.secret).toEqual({
      secretName: "shop-pooler-tls",
      defaultMode: 0o440,
      items: [
        { key: "ca.crt", path: "ca.crt" },
        { key: "tls.crt", path: "tls.crt" },
        { key: "tls.key", path: "tls.key" },
      ],
    });
    expect(JSON.stringify(pod)).not.toContain("shop-server-tls");
  });

  it("lists no database while no primary is known, and leaves out names it cannot carry", () => {
    expect(poolerIni(pooler(), undefined, ["app"])).not.toMatch(/^app =/m);
    expect(poolerIni(pooler(), "10.0.0.7", ["app", "we;ird", "x = y"])).not.toMatch(/weird|we;ird|x = y =/);
  });
});

describe("poolerUserlist", () => {
  it("holds the admin's and the roles' SCRAM verifiers, sorted, and nothing that is not a verifier", () => {
    const list = poolerUserlist(verifier("admin"), [
      { name: "orders", verifier: verifier("orders") },
      { name: "app", verifier: verifier("app") },
      { name: "legacy", verifier: "md5abcdef" },
      { name: 'evil"name\n', verifier: verifier("x") },
      { name: POOLER_ADMIN_USER, verifier: verifier("spoof") },
    ]);
    expect(list).toBe(`"${POOLER_ADMIN_USER}" "${verifier("admin")}"\n"app" "${verifier("app")}"\n"orders" "${verifier("orders")}"\n`);
    expect(list).not.toContain("password");
  });
});

describe("what the console can show of a file change", () => {
  const admin = verifier("admin");
  const app = { name: "app", verifier: verifier("app") };
  const report = { name: "report", verifier: verifier("report") };
  it("reads back the entries poolerUserlist writes", () => {
    expect(userlistEntries(poolerUserlist(admin, [app, report]))).toEqual(new Map([[POOLER_ADMIN_USER, admin], ["app", app.verifier], ["report", report.verifier]]));
  });

  it("roles only added can be seen (SHOW USERS names them); a changed verifier or a removed role cannot", () => {
    const before = poolerUserlist(admin, [app]);
    expect(userlistChangeVisible(before, poolerUserlist(admin, [app, report]))).toBe(true);
    expect(userlistChangeVisible(before, poolerUserlist(admin, [{ name: "app", verifier: verifier("rotated") }]))).toBe(false);
    expect(userlistChangeVisible(poolerUserlist(admin, [app, report]), before)).toBe(false);
  });

  it("the settings hash follows the [pgbouncer] settings, not the primary's address or the databases", () => {
    expect(poolerSettingsHash(pooler())).toBe(poolerSettingsHash(pooler()));
    expect(poolerSettingsHash(pooler({ defaultPoolSize: 7 }))).not.toBe(poolerSettingsHash(pooler()));
    expect(poolerSettingsHash(pooler({ parameters: { server_login_retry: "3" } }))).not.toBe(poolerSettingsHash(pooler()));
  });

  // What PgBouncer 1.18 printed in SHOW CONFIG for values written so (Debian bookworm's, run by hand).
  it("reads a setting back as SHOW CONFIG prints it: booleans as 1/0, numbers plain, lists as written", () => {
    expect(sameSetting("yes", "1")).toBe(true);
    expect(sameSetting("off", "0")).toBe(true);
    expect(sameSetting("600.0", "600")).toBe(true);
    expect(sameSetting("0.5", "0.5")).toBe(true);
    expect(sameSetting("extra_float_digits, search_path", "extra_float_digits,search_path")).toBe(true);
    expect(sameSetting("transaction", "transaction")).toBe(true);
    expect(sameSetting("", "")).toBe(true);
    expect(sameSetting("600", "60")).toBe(false);
    expect(sameSetting("session", "transaction")).toBe(false);
    expect(sameSetting("yes", "0")).toBe(false);
    expect(sameSetting("extra_float_digits", "extra_float_digits,search_path")).toBe(false);
  });

  it("names the settings a PgBouncer does not run yet, from its SHOW CONFIG", () => {
    const p = pooler({ poolMode: "transaction", defaultPoolSize: 7, parameters: { server_idle_timeout: "300", log_connections: "yes" } });
    const running = Object.fromEntries(Object.entries(poolerSettings(p)).map(([k, v]) => [k, v === "yes" ? "1" : v]));
    expect(settingsNotLoaded(p, running)).toEqual([]);
    // The file changed, the process still runs the old values: those two are what a RELOAD must load.
    expect(settingsNotLoaded(p, { ...running, default_pool_size: "20", server_idle_timeout: "600" })).toEqual(["default_pool_size", "server_idle_timeout"]);
    // A key its version does not list is not waited for.
    const { log_connections: _gone, ...older } = running;
    expect(settingsNotLoaded(p, older)).toEqual([]);
  });
});

describe("pooler objects", () => {
  it("keeps the passwords out of the ConfigMap and the mounted Secret; the admin Secret is the operator's", () => {
    const admin = poolerAdminSecret(cluster, "s3cret-admin");
    expect(admin.metadata?.name).toBe("shop-pooler-admin");
    expect(admin.stringData?.["verifier"]).toMatch(/^SCRAM-SHA-256\$4096:/);
    const auth = poolerAuthSecret(cluster, poolerUserlist(admin.stringData!["verifier"]!, []));
    expect(auth.metadata?.name).toBe("shop-pooler-auth");
    expect(JSON.stringify(auth)).not.toContain("s3cret-admin");
    const cm = poolerConfigMap(cluster, poolerIni(pooler(), "10.0.0.7", ["app"]));
    expect(cm.metadata?.name).toBe("shop-pooler");
    expect(cm.metadata?.ownerReferences?.[0]).toMatchObject({ uid: "u-1", controller: true });
    expect(cm.metadata?.annotations?.["setpoint.dev/data-hash"]).toMatch(/^[0-9a-f]{16}$/);
  });

  it("runs PgBouncer non-root, read-only, without capabilities, mounting only the auth file of its Secret", () => {
    const pod = poolerPod(cluster, pooler({ resources: { limits: { memory: "64Mi" } } }), 2, "abc.def");
    expect(pod.metadata?.name).toBe("shop-pooler-2");
    expect(pod.metadata?.labels).toEqual({ "setpoint.dev/cluster": "shop", "setpoint.dev/pooler": "shop" });
    expect(pod.metadata?.annotations?.["setpoint.dev/pooler-config-hash"]).toBe("abc.def");
    expect(pod.spec?.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(pod.spec?.automountServiceAccountToken).toBe(false);
    const c = pod.spec!.containers[0]!;
    expect(c.image).toBe("setpoint-pooler:0.1.0");
    expect(c.args).toEqual(["/etc/setpoint/pooler/pgbouncer.ini"]);
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(c.resources).toEqual({ limits: { memory: "64Mi" } });
    expect(pod.spec?.volumes?.find((v) => v.name === "auth")?.secret).toEqual({ secretName: "shop-pooler-auth", defaultMode: 0o440, items: [{ key: "userlist.txt", path: "userlist.txt" }] });
  });

  it("changes the pod's spec hash with its spec, not with its configuration", () => {
    const hash = (p: PoolerSpec, config: string) => poolerPod(cluster, p, 1, config).metadata?.annotations?.["setpoint.dev/pooler-pod-hash"];
    expect(hash(pooler(), "a")).toBe(hash(pooler(), "b"));
    expect(hash(pooler(), "a")).not.toBe(hash(pooler({ image: "registry.example/setpoint-pooler:2" }), "a"));
  });

  it("serves port 5432 of <cluster>-pooler-rw from the PgBouncer pods only", () => {
    const svc = poolerService(cluster);
    expect(svc.metadata?.name).toBe("shop-pooler-rw");
    expect(svc.spec?.selector).toEqual({ "setpoint.dev/cluster": "shop", "setpoint.dev/pooler": "shop" });
    expect(svc.spec?.ports).toEqual([{ name: "postgres", port: 5432, targetPort: "pgbouncer", protocol: "TCP" }]);
  });
});
