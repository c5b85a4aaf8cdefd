import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

// The schema engine is folded by pipeline stage (ADR 0023): a stage imports only from itself and
// earlier stages, and no files import each other in a cycle. Read from the import statements.

const ROOT = __dirname;

/** Stages in pipeline order; each entry is a directory, or a file at the top of sdk/schema. */
const STAGES: readonly (readonly string[])[] = [
  // The vocabulary every stage shares: the model, the change union, names PostgreSQL chooses, hazard codes.
  ["model.ts", "changes.ts", "names.ts", "index-definition.ts", "hazards.ts", "internal"],
  ["kinds"],
  ["source", "builders"],
  ["introspect"],
  ["normalize"],
  ["diff"],
  ["probes"],
  ["plan"],
  ["apply"],
  ["verify"],
  // The engine object and what drives it.
  ["engine.ts", "plan-file.ts", "index.ts"],
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [join(dir, e.name)] : [],
  );
}

function stageOf(file: string): number {
  const rel = relative(ROOT, file).split("/");
  const at = STAGES.findIndex((s) => s.includes(rel[0]!));
  if (at < 0) throw new Error(`sdk/schema/${rel.join("/")} is in no stage: add it to STAGES in layout.test.ts`);
  return at;
}

/** Relative imports of a file within sdk/schema, resolved to files (type-only imports count too). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/\bfrom\s+"(\.{1,2}\/[^"]+)"|\brequire\("(\.{1,2}\/[^"]+)"\)/g)) {
    const target = resolve(dirname(file), m[1] ?? m[2]!);
    if (!target.startsWith(ROOT + "/")) continue;
    out.push(target.endsWith(".ts") ? target : `${target}.ts`);
  }
  return out;
}

const files = sourceFiles(ROOT);
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const name = (f: string) => relative(ROOT, f);

describe("sdk/schema layout", () => {
  it("puts every file in a stage, and imports only from the same or an earlier stage", () => {
    const backwards = [...graph].flatMap(([f, deps]) => deps.filter((d) => stageOf(d) > stageOf(f)).map((d) => `${name(f)} -> ${name(d)}`));
    expect(backwards).toEqual([]);
  });

  it("has no import cycle", () => {
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === "done") return;
      if (state.get(f) === "open") {
        cycles.push([...path.slice(path.indexOf(f)), f].map(name).join(" -> "));
        return;
      }
      state.set(f, "open");
      for (const d of graph.get(f) ?? []) visit(d, [...path, f]);
      state.set(f, "done");
    };
    for (const f of files) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it("reads real imports (the checks above are not vacuous)", () => {
    expect(graph.get(join(ROOT, "plan/plan.ts"))).toContain(join(ROOT, "diff/diff.ts"));
    expect(files.length).toBeGreaterThan(40);
  });

  it("keeps source files under ~600 lines", () => {
    const long = files.filter((f) => readFileSync(f, "utf8").split("\n").length > 620).map(name);
    expect(long).toEqual([]);
  });
});
