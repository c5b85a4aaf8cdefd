import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { z } from "zod";
import { InputError } from "../errors";
import type { CliIO } from "./main";

/**
 * `setpoint pr-comment`: turns `pulumi preview --json` of a stack into one Markdown summary for a
 * pull request. Per Setpoint resource: a `Schema`'s plan (SQL, hazards with row estimates, lock,
 * expected duration, plan hash, refusal), an `Upgrade`'s steps and preflight findings, a
 * `PostgresCluster`'s spec changes. Reads only the preview's JSON: no database, no cluster.
 */

/** One step of `pulumi preview --json` (only the fields read here). */
const previewStep = z
  .object({
    op: z.string(),
    urn: z.string(),
    type: z.string().optional(),
    oldState: z.object({ inputs: z.record(z.string(), z.unknown()).optional(), outputs: z.record(z.string(), z.unknown()).optional() }).passthrough().optional().nullable(),
    newState: z.object({ inputs: z.record(z.string(), z.unknown()).optional(), outputs: z.record(z.string(), z.unknown()).optional() }).passthrough().optional().nullable(),
    diffReasons: z.array(z.string()).optional().nullable(),
  })
  .passthrough();

const previewJson = z
  .object({
    steps: z.array(previewStep).default([]),
    diagnostics: z.array(z.object({ urn: z.string().optional(), message: z.string(), severity: z.string() }).passthrough()).default([]),
  })
  .passthrough();

/** The parsed preview. */
export type PreviewJson = z.infer<typeof previewJson>;
type PreviewStep = z.infer<typeof previewStep>;

/**
 * Parses the text of `pulumi preview --json`.
 * @throws {InputError} naming what is wrong and how to produce the input.
 */
export function parsePreviewJson(text: string): PreviewJson {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new InputError(`the input is not JSON (${(cause as Error).message}); pass the output of \`pulumi preview --json\``, { propertyPath: "input" }, { cause });
  }
  const parsed = previewJson.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(`the input is not the output of \`pulumi preview --json\`: ${issue.path.join(".") || "(root)"}: ${issue.message}`, { propertyPath: "input" });
  }
  return parsed.data;
}

// The URN's type chain ends with the resource's own type: `...::stack::parent$child::name`.
const SCHEMA_TYPE = "setpoint:index:Schema$pulumi-nodejs:dynamic:Resource";
const UPGRADE_TYPE = "setpoint:index:Upgrade$pulumi-nodejs:dynamic:Resource";
const CLUSTER_TYPE = "kubernetes:setpoint.dev/v1alpha1:PostgresCluster";

function typeChain(urn: string): string {
  const parts = urn.split("::");
  return parts.length >= 4 ? parts[parts.length - 2]! : "";
}

/** `Schema`, `Upgrade` or `PostgresCluster` for a Setpoint resource or its child; `""` otherwise. */
function kindOf(urn: string): string {
  const m = /(?:^|\$)setpoint:index:(Schema|Upgrade|PostgresCluster)(?:\$|$)/.exec(typeChain(urn));
  return m ? m[1]! : "";
}

function nameOf(urn: string): string {
  return urn.split("::").at(-1) ?? urn;
}

const stateOf = (s: PreviewStep, which: "old" | "new"): Record<string, unknown> => {
  const st = which === "old" ? s.oldState : s.newState;
  return { ...(st?.inputs ?? {}), ...(st?.outputs ?? {}) };
};

/** Escapes text for a Markdown table cell. */
function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

const OP_WORDS: Record<string, string> = { create: "create", update: "update", same: "no change", delete: "delete", replace: "replace", "create-replacement": "replace", refresh: "refresh", read: "read" };

interface StepView {
  step: number;
  kind: string;
  transaction?: string;
  lock?: string;
  duration?: string;
  sql?: string[];
  hazards?: string[];
  rows?: number | null;
}

/** Errors the preview reported for a resource or its component (by name and Setpoint type). */
function errorsFor(preview: PreviewJson, urn: string, componentType: string): string[] {
  const name = nameOf(urn);
  return preview.diagnostics
    .filter((d) => d.severity === "error" && d.urn !== undefined && (d.urn === urn || (d.urn.endsWith(`::${name}`) && typeChain(d.urn).endsWith(componentType))))
    .map((d) => d.message.trim());
}

function schemaSection(preview: PreviewJson, s: PreviewStep): string[] {
  const st = stateOf(s, "new");
  const plan = (Array.isArray(st.plan) ? st.plan : []) as StepView[];
  const refused = (Array.isArray(st.refused) ? st.refused : []) as string[];
  const errors = errorsFor(preview, s.urn, "setpoint:index:Schema");
  // Catalog-level differences an empty plan does not remove (ADR 0014): not "no changes".
  const unmodelled = (Array.isArray(st.unmodelled) ? st.unmodelled : []) as string[];
  const status = refused.length || errors.length ? "**refused**" : plan.length ? `${plan.length} step(s)` : unmodelled.length ? "**differs in unmanaged properties**" : "no changes";
  const out = [`### Schema \`${nameOf(s.urn)}\`: ${status}`, ""];
  if (plan.length === 0 && unmodelled.length && !errors.length) {
    out.push(
      "The plan is empty, but the database differs from the desired schema in properties Setpoint does not manage; `pulumi up` fails on them until they match (change them on the database or in the desired SQL, or set `verifyCatalogs: false`):",
      "",
      ...unmodelled.map((u) => `- \`${u}\``),
      "",
    );
    return out;
  }
  if (plan.length === 0) {
    out.push(errors.length ? "The plan could not be made:" : "The database matches the desired schema.", "");
    for (const e of errors) out.push("```", e, "```", "");
    return out;
  }
  if (typeof st.planHash === "string" && st.planHash) out.push(`Plan hash: \`${st.planHash}\``, "");
  out.push("| # | Step | Lock | Expected duration | Rows (estimate) | Hazards |", "|---|---|---|---|---|---|");
  for (const p of plan) {
    const hazards = (p.hazards ?? []).map((h) => `\`${h.split(":")[0]}\`${/\(NOT ALLOWED\)$/.test(h) ? " (not allowed)" : " (allowed)"}`).join(", ") || "none";
    const rows = typeof p.rows === "number" ? `~${p.rows.toLocaleString("en-US")}` : "unknown";
    out.push(`| ${p.step} | ${cell(p.kind)}${p.transaction ? ` (${cell(p.transaction)})` : ""} | ${cell(p.lock ?? "unknown")} | ${cell(p.duration ?? "unknown")} | ${rows} | ${hazards} |`);
  }
  out.push("", "```sql");
  for (const p of plan) out.push(`-- step ${p.step}: ${p.kind}`, ...(p.sql ?? []));
  out.push("```", "");
  const hazardLines = plan.flatMap((p) => (p.hazards ?? []).map((h) => `- step ${p.step}: ${h}`));
  if (hazardLines.length) out.push("**Hazards**", "", ...hazardLines, "");
  if (refused.length || errors.length) {
    out.push(`**Refused**: hazard(s) ${refused.map((c) => `\`${c}\``).join(", ")} are neither allowed nor approved for this plan, so \`pulumi up\` will not run it.`, "");
    for (const e of errors) out.push("```", e, "```", "");
  }
  const unmanaged = (Array.isArray(st.unmanaged) ? st.unmanaged : []) as string[];
  if (unmanaged.length) out.push(`Not managed (left untouched): ${unmanaged.map((u) => `\`${u}\``).join(", ")}`, "");
  return out;
}

function upgradeSection(preview: PreviewJson, s: PreviewStep): string[] {
  const st = stateOf(s, "new");
  const steps = (Array.isArray(st.plannedSteps) ? st.plannedSteps : []) as string[];
  const preflight = (Array.isArray(st.preflight) ? st.preflight : []) as string[];
  const errors = errorsFor(preview, s.urn, "setpoint:index:Upgrade");
  const out = [`### Upgrade \`${nameOf(s.urn)}\`: ${errors.length ? "**refused**" : steps.length ? `${steps.length} step(s)` : "nothing to do"}`, ""];
  if (typeof st.phase === "string") out.push(`Phase now: \`${st.phase}\``, "");
  if (typeof st.trafficSummary === "string" && st.trafficSummary) out.push(`Traffic switch: ${st.trafficSummary}`, "");
  if (steps.length) out.push("Steps:", "", ...steps.map((l, i) => `${i + 1}. ${l}`), "");
  if (preflight.length) out.push("Preflight:", "", ...preflight.map((l) => `- ${l}`), "");
  for (const e of errors) out.push("```", e, "```", "");
  return out;
}

/** Paths whose values differ between two JSON values, with both values (`undefined`: absent). */
export function changedPaths(a: unknown, b: unknown, path = ""): { path: string; from: unknown; to: unknown }[] {
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => changedPaths(a[k], b[k], path ? `${path}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [{ path, from: a, to: b }];
}

function clusterSection(preview: PreviewJson, s: PreviewStep): string[] {
  const oldSpec = (stateOf(s, "old").spec ?? undefined) as unknown;
  const newSpec = (stateOf(s, "new").spec ?? undefined) as unknown;
  const name = nameOf(s.urn);
  const out = [`### PostgresCluster \`${name}\`: ${OP_WORDS[s.op] ?? s.op}`, ""];
  const changes = changedPaths(oldSpec ?? {}, newSpec ?? {}, "spec");
  const show = (v: unknown) => (v === undefined ? "(unset)" : `\`${cell(JSON.stringify(v))}\``);
  if (changes.length) out.push("| Field | Now | After |", "|---|---|---|", ...changes.map((c) => `| \`${c.path}\` | ${show(c.from)} | ${show(c.to)} |`), "");
  for (const e of errorsFor(preview, s.urn, "setpoint:index:PostgresCluster")) out.push("```", e, "```", "");
  return out;
}

/**
 * The Markdown summary of a preview: one section per Setpoint resource, in the preview's order.
 * Resources without changes are listed in one line at the end.
 */
export function prComment(preview: PreviewJson): string {
  const sections: string[][] = [];
  const unchanged: string[] = [];
  let schemas = 0;
  let refused = 0;
  for (const s of preview.steps) {
    const chain = typeChain(s.urn);
    let section: string[] | null = null;
    if (chain.endsWith(SCHEMA_TYPE)) {
      schemas++;
      const st = stateOf(s, "new");
      const plan = Array.isArray(st.plan) ? st.plan : [];
      const isRefused = (Array.isArray(st.refused) && st.refused.length > 0) || errorsFor(preview, s.urn, "setpoint:index:Schema").length > 0;
      if (isRefused) refused++;
      if (plan.length === 0 && !isRefused && s.op === "same") unchanged.push(`Schema \`${nameOf(s.urn)}\``);
      else section = schemaSection(preview, s);
    } else if (chain.endsWith(UPGRADE_TYPE)) {
      if (s.op === "same" && errorsFor(preview, s.urn, "setpoint:index:Upgrade").length === 0) unchanged.push(`Upgrade \`${nameOf(s.urn)}\``);
      else section = upgradeSection(preview, s);
    } else if (chain.endsWith(CLUSTER_TYPE) || s.type === CLUSTER_TYPE) {
      if (s.op === "same") unchanged.push(`PostgresCluster \`${nameOf(s.urn)}\``);
      else section = clusterSection(preview, s);
    }
    if (section) sections.push(section);
  }
  // A resource whose check failed has no step, only its error (e.g. an Upgrade refused by preflight).
  const stepped = new Set(
    preview.steps.filter((s) => [SCHEMA_TYPE, UPGRADE_TYPE, CLUSTER_TYPE].some((t) => typeChain(s.urn).endsWith(t))).map((s) => `${kindOf(s.urn)}::${nameOf(s.urn)}`),
  );
  const failed = new Map<string, string[]>();
  for (const d of preview.diagnostics) {
    if (d.severity !== "error" || !d.urn) continue;
    const kind = kindOf(d.urn);
    const key = `${kind}::${nameOf(d.urn)}`;
    if (!kind || stepped.has(key)) continue;
    failed.set(key, [...(failed.get(key) ?? []), d.message.trim()]);
  }
  for (const [key, messages] of failed) {
    const [kind, name] = key.split("::") as [string, string];
    refused++;
    sections.push([`### ${kind} \`${name}\`: **refused**`, "", "The preview failed before it could show a plan:", "", ...messages.flatMap((m) => ["```", m, "```", ""])]);
  }
  const head = [`## Setpoint preview`, ""];
  if (sections.length === 0 && unchanged.length === 0) return [...head, "No Setpoint resources in this preview.", ""].join("\n");
  const summary = `${sections.length} resource(s) with changes${refused ? `, ${refused} refused` : ""}${schemas ? ` (${schemas} schema(s) in the stack)` : ""}.`;
  head.push(summary, "");
  const out = [...head, ...sections.flat()];
  if (unchanged.length) out.push(`Unchanged: ${unchanged.join(", ")}.`, "");
  return out.join("\n");
}

/** Runs `setpoint pr-comment [--file PATH]` (stdin without `--file`); resolves to the exit code. */
export async function prCommentCommand(argv: readonly string[], io: CliIO, stdin: () => Promise<string> = readStdin): Promise<number> {
  let values: { file?: string };
  try {
    ({ values } = parseArgs({ args: [...argv], options: { file: { type: "string" } }, allowPositionals: false, strict: true }));
  } catch (cause) {
    throw new InputError(`${(cause as Error).message}; usage: setpoint pr-comment [--file preview.json] (or pipe \`pulumi preview --json\` into it)`, {}, { cause });
  }
  let text: string;
  if (values.file) {
    try {
      text = await readFile(values.file, "utf8");
    } catch (cause) {
      throw new InputError(`cannot read --file ${values.file}: ${(cause as Error).message}`, { propertyPath: "file", file: values.file }, { cause });
    }
  } else text = await stdin();
  io.stdout(prComment(parsePreviewJson(text)));
  return 0;
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new InputError("pr-comment reads `pulumi preview --json` from stdin or --file; nothing was piped in", { propertyPath: "input" });
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
