// `npm run demo:kubernetes`: the PostgresSchema operator end to end on a real API server.
// Starts a local control plane (etcd + kube-apiserver from the toolchain) and an embedded
// PostgreSQL, `pulumi up`s examples/kubernetes (operator CRDs and RBAC, a Secret with the database
// URL and a PostgresSchema), runs the operator in this process (out of cluster, as a developer
// would), prints the resource's READY/REASON, drops an index the schema declares behind
// the operator's back, and prints the operator detecting and correcting that drift. Everything
// it started is stopped and its files removed at the end, also when a step fails.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CustomObjectsApi, Watch } from "@kubernetes/client-node";
import { Client } from "pg";
import { GROUP, KINDS, VERSION } from "../sdk/api/index";
import { startOperator, type RunningOperator } from "../sdk/operator/main";
import { randomPassword, startEmbeddedPostgres, type EmbeddedPostgres } from "../sdk/postgres/index";
import type { LogFields, Logger } from "../sdk/reconcile/index";
// The local control plane is the test harness's (test/support is not part of the package): an
// example may reuse it, since the demo runs from a checkout with the toolchain built anyway.
import { loadToolchain, startControlPlane, type ControlPlane } from "../test/support/control-plane";

const root = resolve(__dirname, "..");
const programDir = join(__dirname, "kubernetes");
const NAMESPACE = "default";
const NAME = "shop";
const INDEX = "customers_created_at_idx";
const TOOLS = ["pulumi", "pulumi-language-nodejs", "pulumi-resource-kubernetes", "etcd", "kube-apiserver"];

function step(title: string): void {
  console.log(`\n=== ${title}`);
}

/** Operator log lines (JSON, as the operator writes them), kept for waiting on and printed with a prefix. */
function recordingLogger(lines: string[], base: LogFields = {}): Logger {
  const emit = (level: string, msg: string, fields?: LogFields): void => {
    const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields });
    lines.push(line);
    console.log(`operator | ${line}`);
  };
  return {
    debug: () => undefined,
    info: (msg, fields) => emit("info", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    child: (fields) => recordingLogger(lines, { ...base, ...fields }),
  };
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/** The Ready condition of the PostgresSchema, and the resourceVersion it was read at. */
async function readyCondition(objects: CustomObjectsApi): Promise<(Condition & { resourceVersion?: string }) | undefined> {
  const obj = (await objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural: KINDS.PostgresSchema.plural, name: NAME })) as {
    metadata?: { resourceVersion?: string };
    status?: { conditions?: Condition[] };
  };
  const ready = obj.status?.conditions?.find((c) => c.type === "Ready");
  return ready && { ...ready, resourceVersion: obj.metadata?.resourceVersion };
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

function printReady(...conditions: Condition[]): void {
  console.log(`${"NAME".padEnd(8)}${"READY".padEnd(8)}REASON`);
  for (const c of conditions) console.log(`${NAME.padEnd(8)}${c.status.padEnd(8)}${c.reason ?? ""}`);
}

async function main(): Promise<void> {
  step("toolchain");
  const tc = loadToolchain();
  const missing = TOOLS.filter((t) => !tc?.tools[t]);
  if (!tc || missing.length > 0) throw new Error(`toolchain missing (${missing.join(", ")}); run \`npm run toolchain\` first`);
  // The program imports `setpoint/components`, which resolves to the built package (dist/).
  if (!existsSync(join(root, "dist/components/index.js"))) {
    console.log("dist/ is missing: npm run build");
    const build = spawnSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });
    if (build.status !== 0) throw new Error("npm run build failed; see its output above");
  }

  const work = mkdtempSync(join(tmpdir(), "setpoint-demo-k8s-"));
  const stack = `demo-${randomBytes(4).toString("hex")}`;
  const configFile = join(programDir, `Pulumi.${stack}.yaml`);
  let pg: EmbeddedPostgres | undefined;
  let cp: ControlPlane | undefined;
  let operator: RunningOperator | undefined;
  let stackCreated = false;
  const pulumiHome = join(work, "pulumi-home");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${dirname(tc.tools["pulumi"]!.path)}:${dirname(process.execPath)}:${process.env.PATH ?? ""}`,
    PULUMI_HOME: pulumiHome,
    PULUMI_CONFIG_PASSPHRASE: randomBytes(16).toString("hex"),
    PULUMI_SKIP_UPDATE_CHECK: "1",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
  };
  delete env.PULUMI_ACCESS_TOKEN;
  delete env.PULUMI_BACKEND_URL;
  const pulumi = (args: string[], opts: { show?: boolean; input?: string } = {}): string => {
    const r = spawnSync(tc.tools["pulumi"]!.path, args, { cwd: programDir, env, encoding: "utf8", input: opts.input, maxBuffer: 64 << 20 });
    if (opts.show !== false) process.stdout.write(r.stdout);
    if (r.status !== 0) throw new Error(`pulumi ${args.join(" ")} failed:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };

  try {
    step("starting embedded PostgreSQL 17");
    pg = await startEmbeddedPostgres({ major: 17, password: randomPassword() });
    console.log(`${pg.version.split(",")[0]} on ${pg.host}:${pg.port} (data in ${pg.dir})`);
    const admin = new Client({ connectionString: pg.url() });
    await admin.connect();
    await admin.query("CREATE DATABASE shop");
    await admin.end();

    step("starting the local control plane (etcd + kube-apiserver)");
    cp = await startControlPlane({ toolchain: tc });
    console.log(`API server ${cp.server}; etcd pid ${cp.pids.etcd}, kube-apiserver pid ${cp.pids.apiserver}; kubeconfig ${cp.kubeconfigPath}`);

    step(`pulumi up (examples/kubernetes, stack ${stack}, local file backend)`);
    mkdirSync(pulumiHome);
    if (existsSync(join(tc.pulumiHome, "plugins"))) symlinkSync(join(tc.pulumiHome, "plugins"), join(pulumiHome, "plugins"));
    mkdirSync(join(work, "state"));
    pulumi(["login", `file://${join(work, "state")}`], { show: false });
    pulumi(["stack", "init", stack, "--secrets-provider", "passphrase"], { show: false });
    stackCreated = true;
    // Secrets go in on stdin, never on the command line.
    pulumi(["config", "set", "--secret", "kubeconfig"], { show: false, input: readFileSync(cp.kubeconfigPath, "utf8") });
    pulumi(["config", "set", "--secret", "databaseUrl"], { show: false, input: pg.url("shop") });
    pulumi(["up", "--yes", "--skip-preview"]);

    // Started after the CRDs exist (it would also start before, retrying its watch until they do).
    step("starting the operator (local process, out of cluster)");
    const logLines: string[] = [];
    operator = await startOperator({
      kubeconfig: cp.kubeconfigPath,
      metricsPort: 0,
      metricsHost: "127.0.0.1",
      // Normalize desired schemas on the demo's server (scratch databases) rather than a second embedded one.
      engineOptions: { devUrl: pg.url(), cacheDir: join(work, "cache") },
      unreachableRequeueMs: 2000,
      logger: recordingLogger(logLines),
    });

    step(`kubectl get postgresschema ${NAME}`);
    const objects = cp.kubeConfig.makeApiClient(CustomObjectsApi);
    const ready = await waitFor("the PostgresSchema to be Ready", 120_000, async () => {
      const c = await readyCondition(objects);
      return c?.status === "True" ? c : undefined;
    });
    printReady(ready);

    // Every status write, as a watch sees it: DriftCorrected lasts only until the operator's next
    // look (the write itself triggers one), which finds the database converged.
    const transitions: Condition[] = [];
    const watch = await new Watch(cp.kubeConfig).watch(
      `/apis/${GROUP}/${VERSION}/namespaces/${NAMESPACE}/${KINDS.PostgresSchema.plural}`,
      { fieldSelector: `metadata.name=${NAME}`, resourceVersion: ready.resourceVersion },
      (_type: string, obj: { status?: { conditions?: Condition[] } }) => {
        const c = obj.status?.conditions?.find((x) => x.type === "Ready");
        const last = transitions.at(-1);
        if (c && (c.status !== last?.status || c.reason !== last?.reason)) transitions.push(c);
      },
      () => undefined,
    );
    try {
      step(`out of band: DROP INDEX ${INDEX}`);
      const db = new Client({ connectionString: pg.url("shop") });
      await db.connect();
      try {
        await db.query(`DROP INDEX ${INDEX}`);
        console.log(`dropped ${INDEX}; the operator re-checks every 5 s`);
        const seen = logLines.length;
        const corrected = await waitFor("the operator to correct the drift", 60_000, async () =>
          logLines.slice(seen).find((l) => /drift .*corrected/.test(l)),
        );
        step("the operator detected and corrected the drift");
        console.log(corrected);
        const back = await db.query("SELECT indexdef FROM pg_indexes WHERE indexname = $1", [INDEX]);
        if (back.rowCount !== 1) throw new Error(`${INDEX} was not re-created`);
        console.log(`${INDEX} is back: ${back.rows[0].indexdef as string}`);
      } finally {
        await db.end();
      }
      await waitFor("the status to show the correction", 30_000, async () =>
        transitions.some((c) => c.status === "True" && c.reason === "DriftCorrected") ? true : undefined,
      );
      step(`kubectl get postgresschema ${NAME} --watch`);
      printReady(...transitions);
    } finally {
      watch.abort();
    }
  } finally {
    step("stopping everything");
    await operator?.stop().catch((err: unknown) => console.error(`stopping the operator: ${String(err)}`));
    // Removing the stack without `pulumi destroy`: the control plane and everything in it go next.
    if (stackCreated) {
      try {
        pulumi(["stack", "rm", stack, "--yes", "--force"], { show: false });
      } catch (err) {
        console.error(err instanceof Error ? err.message : err);
      }
    }
    rmSync(configFile, { force: true });
    await cp?.stop();
    await pg?.stop();
    rmSync(work, { recursive: true, force: true });
    console.log("stopped the operator, the control plane and PostgreSQL, and removed the demo's files");
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
