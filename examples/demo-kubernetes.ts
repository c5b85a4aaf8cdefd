// `npm run demo:kubernetes`: the PostgresSchema operator end to end on a real API server.
// Starts a local control plane (etcd + kube-apiserver from the toolchain) and an embedded
// PostgreSQL, `pulumi up`s examples/kubernetes (operator CRDs and RBAC, a Secret with the database
// URL and a PostgresSchema), runs the operator in this process (out of cluster, as a developer
// would), prints the resource's READY/REASON, drops an index the schema declares behind
// the operator's back, and prints the operator detecting and correcting that drift. Everything
// it started is stopped and its files removed at the end, also when a step fails or the demo is
// interrupted.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CustomObjectsApi, Watch } from "@kubernetes/client-node";
import { pgClient } from "../sdk/postgres/client";
import { GROUP, KINDS, VERSION } from "../sdk/api/index";
import { startOperator, type RunningOperator } from "../sdk/operator/main";
import { randomPassword, startEmbeddedPostgres, type EmbeddedPostgres } from "../sdk/postgres/index";
import { startControlPlane, type ControlPlane } from "../test/support/control-plane";
import { eventually } from "../test/support/eventually";
import { ensureBuilt, localStack, recordingLogger, requireToolchain, runMain, step, stopOnce } from "./support/demo";

const programDir = join(__dirname, "kubernetes");
const NAMESPACE = "default";
const NAME = "shop";
const INDEX = "customers_created_at_idx";
const TOOLS = ["pulumi", "pulumi-language-nodejs", "pulumi-resource-kubernetes", "etcd", "kube-apiserver"];

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

function printReady(...conditions: Condition[]): void {
  console.log(`${"NAME".padEnd(8)}${"READY".padEnd(8)}REASON`);
  for (const c of conditions) console.log(`${NAME.padEnd(8)}${c.status.padEnd(8)}${c.reason ?? ""}`);
}

async function main(): Promise<void> {
  step("toolchain");
  const tc = requireToolchain(TOOLS);
  ensureBuilt();

  const work = mkdtempSync(join(tmpdir(), "setpoint-demo-k8s-"));
  const stack = localStack(tc, programDir, work);
  let pg: EmbeddedPostgres | undefined;
  let cp: ControlPlane | undefined;
  let operator: RunningOperator | undefined;
  const stopAll = stopOnce(async () => {
    step("stopping everything");
    await operator?.stop().catch((err: unknown) => console.error(`stopping the operator: ${String(err)}`));
    // Removing the stack without `pulumi destroy`: the control plane and everything in it go next.
    await stack.remove();
    await cp?.stop();
    await pg?.stop();
    rmSync(work, { recursive: true, force: true });
    console.log("stopped the operator, the control plane and PostgreSQL, and removed the demo's files");
  });

  try {
    step("starting embedded PostgreSQL 17");
    pg = await startEmbeddedPostgres({ major: 17, password: randomPassword() });
    console.log(`${pg.version.split(",")[0]} on ${pg.host}:${pg.port} (data in ${pg.dir})`);
    const admin = pgClient({ connectionString: pg.url() });
    await admin.connect();
    await admin.query("CREATE DATABASE shop");
    await admin.end();

    step("starting the local control plane (etcd + kube-apiserver)");
    cp = await startControlPlane({ toolchain: tc });
    console.log(`API server ${cp.server}; etcd pid ${cp.pids.etcd}, kube-apiserver pid ${cp.pids.apiserver}; kubeconfig ${cp.kubeconfigPath}`);

    step(`pulumi up (examples/kubernetes, stack ${stack.name}, local file backend)`);
    await stack.init();
    // Secrets go in on stdin, never on the command line.
    await stack.run(["config", "set", "--secret", "kubeconfig"], { show: false, input: readFileSync(cp.kubeconfigPath, "utf8") });
    await stack.run(["config", "set", "--secret", "databaseUrl"], { show: false, input: pg.url("shop") });
    await stack.run(["up", "--yes", "--skip-preview"]);

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
    const ready = await eventually("the PostgresSchema to be Ready", async () => {
      const c = await readyCondition(objects);
      return c?.status === "True" ? c : undefined;
    }, 120_000, 250);
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
      const db = pgClient({ connectionString: pg.url("shop") });
      await db.connect();
      try {
        await db.query(`DROP INDEX ${INDEX}`);
        console.log(`dropped ${INDEX}; the operator re-checks every 5 s`);
        const seen = logLines.length;
        const corrected = await eventually("the operator to correct the drift", () => logLines.slice(seen).find((l) => /drift .*corrected/.test(l)), 60_000, 250);
        step("the operator detected and corrected the drift");
        console.log(corrected);
        const back = await db.query("SELECT indexdef FROM pg_indexes WHERE indexname = $1", [INDEX]);
        if (back.rowCount !== 1) throw new Error(`${INDEX} was not re-created`);
        console.log(`${INDEX} is back: ${back.rows[0].indexdef as string}`);
      } finally {
        await db.end();
      }
      await eventually("the status to show the correction", () => transitions.some((c) => c.status === "True" && c.reason === "DriftCorrected"), 30_000, 250);
      step(`kubectl get postgresschema ${NAME} --watch`);
      printReady(...transitions);
    } finally {
      watch.abort();
    }
  } finally {
    await stopAll();
  }
}

runMain(main);
