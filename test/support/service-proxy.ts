// A stand-in for kube-proxy for one Service, on this machine: a TCP listener on loopback that
// sends each new connection to one of the ready pods the Service's selector picks at that moment
// (the pods the node harness runs on their 127.B.x.y addresses). As with kube-proxy, a connection
// stays on the pod it was sent to; when the Service selects another pod (a failover repoints rw),
// only new connections go there. With no ready pod selected, a connection is closed at once.
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";

/** Options of {@link startServiceProxy}. */
export interface ServiceProxyOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  /** Name of the Service. */
  readonly service: string;
  /** Address to listen on. @default "127.0.0.1" */
  readonly host?: string;
  /** Port to listen on. @default a free port */
  readonly port?: number;
}

/** A running proxy. */
export interface ServiceProxy {
  readonly host: string;
  readonly port: number;
  /** Closes the listener and every connection it carries. */
  stop(): Promise<void>;
}

/**
 * Starts the proxy: the Service need not exist yet (each connection looks it up).
 * @throws when the listener cannot bind.
 */
export async function startServiceProxy(options: ServiceProxyOptions): Promise<ServiceProxy> {
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const sockets = new Set<Socket>();
  const track = (s: Socket): void => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  };

  /** A ready pod the Service selects now, and the port to reach it on. */
  const endpoint = async (): Promise<{ ip: string; port: number } | undefined> => {
    const svc = await core.readNamespacedService({ name: options.service, namespace: options.namespace });
    const selector = Object.entries(svc.spec?.selector ?? {}).map(([k, v]) => `${k}=${v}`).join(",");
    if (!selector) return undefined;
    const pods = (await core.listNamespacedPod({ namespace: options.namespace, labelSelector: selector })).items.filter(
      (p) => p.status?.podIP && !p.metadata?.deletionTimestamp && p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
    );
    const pod = pods[Math.floor(Math.random() * pods.length)];
    const servicePort = svc.spec?.ports?.[0];
    const target = servicePort?.targetPort ?? servicePort?.port;
    // A named targetPort is the pod's container port of that name.
    const port = typeof target === "string" ? pod?.spec?.containers.flatMap((c) => c.ports ?? []).find((p) => p.name === target)?.containerPort : target;
    return pod && port !== undefined ? { ip: pod.status!.podIP!, port } : undefined;
  };

  const server: Server = createServer((client) => {
    track(client);
    client.pause();
    client.on("error", () => client.destroy());
    endpoint()
      .catch(() => undefined)
      .then((to) => {
        if (!to || client.destroyed) return client.destroy();
        const upstream = createConnection(to.port, to.ip);
        track(upstream);
        upstream.on("error", () => client.destroy());
        upstream.on("close", () => client.destroy());
        client.on("close", () => upstream.destroy());
        upstream.once("connect", () => {
          client.pipe(upstream);
          upstream.pipe(client);
          client.resume();
        });
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("service proxy: no TCP address");
  return {
    host: address.address,
    port: address.port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
