/**
 * Kubernetes Events for the cluster controller's decisions (restart, switchover, failover,
 * growth, refusals), recorded on the `PostgresCluster` so `kubectl describe` shows them. A
 * recorder never fails a reconcile: an Event that cannot be written is logged and dropped. The
 * same reason and message on the same object within {@link EventRecorderOptions.dedupeMs} are
 * recorded once (a refusal repeated every requeue is one Event).
 */
import type { CoreV1Api, CoreV1Event } from "@kubernetes/client-node";
import type { Logger } from "../../reconcile/index";

/** The object an Event is about. */
export interface EventSubject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace: string; readonly uid: string };
}

/** Records Events. */
export interface EventRecorder {
  /** Records one Event (asynchronously; never throws). */
  record(subject: EventSubject, type: "Normal" | "Warning", reason: string, message: string): Promise<void>;
}

/** Options of {@link kubernetesEventRecorder}. */
export interface EventRecorderOptions {
  readonly api: Pick<CoreV1Api, "createNamespacedEvent">;
  /** `source.component` and `reportingComponent`. @default "setpoint-operator" */
  readonly component?: string;
  readonly logger?: Logger;
  /** Identical Events within this window are recorded once. @default 60_000 ms */
  readonly dedupeMs?: number;
  readonly now?: () => Date;
}

/** An {@link EventRecorder} writing core/v1 Events. */
export function kubernetesEventRecorder(options: EventRecorderOptions): EventRecorder {
  const component = options.component ?? "setpoint-operator";
  const recent = new Map<string, number>();
  const now = options.now ?? (() => new Date());
  return {
    async record(subject, type, reason, message) {
      const t = now();
      const key = `${subject.metadata.uid}\u0000${reason}\u0000${message}`;
      const last = recent.get(key);
      if (last !== undefined && t.getTime() - last < (options.dedupeMs ?? 60_000)) return;
      recent.set(key, t.getTime());
      if (recent.size > 1000) for (const [k, at] of recent) if (t.getTime() - at > (options.dedupeMs ?? 60_000)) recent.delete(k);
      const body: CoreV1Event = {
        metadata: { generateName: `${subject.metadata.name}.`, namespace: subject.metadata.namespace },
        involvedObject: { apiVersion: subject.apiVersion, kind: subject.kind, name: subject.metadata.name, namespace: subject.metadata.namespace, uid: subject.metadata.uid },
        type,
        reason,
        message: message.slice(0, 1024),
        source: { component },
        reportingComponent: component,
        reportingInstance: component,
        firstTimestamp: t,
        lastTimestamp: t,
        count: 1,
      };
      try {
        await options.api.createNamespacedEvent({ namespace: subject.metadata.namespace, body });
      } catch (err) {
        options.logger?.error("could not record event", { reason, error: err instanceof Error ? err.message : String(err) });
      }
    },
  };
}
