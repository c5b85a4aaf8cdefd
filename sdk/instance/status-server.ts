/**
 * The instance manager's status endpoint (ADR 0026): a small HTTP server in the manager (the
 * container's PID 1, already running) that answers the kubelet's probes from the manager's own
 * cheap checks of the `postgres` it supervises, instead of a Node.js process spawned per probe.
 *
 * | path | 200 when | 503 when |
 * |---|---|---|
 * | `/readyz` | the server runs and accepts a connection on its local socket | preparing PGDATA, starting, recovering, shutting down, exited |
 * | `/livez` | the manager answers (its event loop runs) | never (a manager that cannot answer is not alive) |
 *
 * Bodies are one JSON object with the phase, the role the server plays (`primary`/`replica`
 * from `pg_is_in_recovery()`) and, when not ready, the reason: status only, never a setting,
 * a password or a connection string. Only GET and HEAD; anything else is 405, other paths 404.
 * One check runs at a time and its result is reused for {@link CHECK_REUSE_MS}, so a burst of
 * requests costs at most one connection to the server.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Readiness } from "./ready";

/** Default port of the status endpoint (the pod's `status` containerPort). */
export const STATUS_PORT = 8000;

/** How long one readiness check's result answers further requests. */
export const CHECK_REUSE_MS = 250;

/** Where the manager is: preparing PGDATA (initdb/clone), running `postgres`, or after it exited. */
export type ManagerPhase = "preparing" | "running" | "exited";

/** What the endpoint reads from the manager. */
export interface StatusSource {
  phase(): ManagerPhase;
  /** The server's readiness (a connection over the local socket); called only while running. */
  check(): Promise<Readiness>;
}

/** One answer: HTTP status and JSON body. */
export interface StatusAnswer {
  readonly code: 200 | 404 | 405 | 503;
  readonly body: Record<string, unknown>;
}

/**
 * The answer to `method path` given the phase and (while running) a readiness result. Pure.
 * @param readiness the check's result; undefined when the phase needs none.
 */
export function statusAnswer(method: string, path: string, phase: ManagerPhase, readiness: Readiness | undefined): StatusAnswer {
  if (method !== "GET" && method !== "HEAD") return { code: 405, body: { error: `method ${method} not allowed: GET or HEAD` } };
  const route = path.split("?")[0];
  if (route === "/livez") return { code: 200, body: { alive: true, phase } };
  if (route !== "/readyz") return { code: 404, body: { error: "not found: /readyz or /livez" } };
  if (phase !== "running") return { code: 503, body: { ready: false, phase, reason: phase === "preparing" ? "preparing the data directory" : "postgres exited" } };
  if (readiness === undefined || !readiness.ready) return { code: 503, body: { ready: false, phase, reason: readiness && !readiness.ready ? readiness.reason : "not checked" } };
  return { code: 200, body: { ready: true, phase, role: readiness.inRecovery ? "replica" : "primary" } };
}

/** A running status endpoint. */
export interface StatusServer {
  /** The address and port it listens on. */
  readonly address: AddressInfo;
  close(): Promise<void>;
}

/**
 * Starts the endpoint on `host:port`.
 * @throws when it cannot listen (the port is taken, the address is not the pod's).
 */
export async function startStatusServer(host: string, port: number, source: StatusSource, now: () => number = Date.now): Promise<StatusServer> {
  let inflight: Promise<Readiness> | undefined;
  let last: { at: number; result: Readiness } | undefined;
  const readiness = (): Promise<Readiness> => {
    if (last !== undefined && now() - last.at < CHECK_REUSE_MS) return Promise.resolve(last.result);
    inflight ??= source
      .check()
      .catch((err: unknown): Readiness => ({ ready: false, reason: err instanceof Error ? err.message : String(err) }))
      .then((result) => {
        last = { at: now(), result };
        inflight = undefined;
        return result;
      });
    return inflight;
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const phase = source.phase();
    const needsCheck = (method === "GET" || method === "HEAD") && path.split("?")[0] === "/readyz" && phase === "running";
    const answer = statusAnswer(method, path, phase, needsCheck ? await readiness() : undefined);
    const body = `${JSON.stringify(answer.body)}\n`;
    res.writeHead(answer.code, { "content-type": "application/json", "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
    res.end(method === "HEAD" ? undefined : body);
  };
  const server: Server = createServer((req, res) => {
    req.resume();
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  // A probe is one short request: slow or idle connections are not kept.
  server.requestTimeout = 5000;
  server.headersTimeout = 5000;
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.unref();
  return {
    address: server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
