import { describe, expect, it } from "vitest";
import { emptyModel, type CompositeTypeDef, type DomainDef, type RoutineDef, type SchemaModel } from "../model";
import { column, model as modelOf, table } from "../../../test/support/schema-model";
import { compareObject, objectReference } from "./objects";
import { routinesInExpression, typesNamedIn } from "./expressions";

const routine = (over: Partial<RoutineDef> = {}): RoutineDef => ({
  kind: "function",
  schema: "public",
  name: "f",
  identity: "f(integer)",
  definition: "CREATE OR REPLACE FUNCTION public.f(a integer) RETURNS integer LANGUAGE sql AS $function$SELECT a$function$",
  arguments: "a integer",
  result: "integer",
  dependsOn: [],
  comment: null,
  ...over,
});

const domain = (over: Partial<DomainDef> = {}): DomainDef => ({
  kind: "domain",
  schema: "public",
  name: "d",
  identity: "d",
  definition: "",
  type: "integer",
  collation: null,
  default: null,
  notNull: false,
  constraints: [],
  dependsOn: [],
  comment: null,
  ...over,
});

const composite = (attrs: [string, string][]): CompositeTypeDef => ({
  kind: "composite type",
  schema: "public",
  name: "c",
  identity: "c",
  definition: "",
  attributes: attrs.map(([name, type]) => ({ name, type, collation: null })),
  dependsOn: [],
  comment: null,
});

const ctx = (live: SchemaModel = emptyModel()) => ({ live, desired: emptyModel(), online: true });

describe("compareObject", () => {
  it("replaces a routine whose body changes, re-creates one whose result or arguments change", () => {
    expect(compareObject(routine(), routine(), ctx())).toEqual({ action: "none" });
    expect(compareObject(routine(), routine({ definition: "other body" }), ctx())).toEqual({ action: "replace" });
    expect(compareObject(routine(), routine({ definition: "x", result: "bigint" }), ctx())).toEqual({ action: "recreate" });
    expect(compareObject(routine(), routine({ definition: "x", arguments: "b integer" }), ctx())).toEqual({ action: "recreate" });
  });

  it("alters a domain's default, NOT NULL and constraints in place (online: NOT VALID then validated), re-creates it for a new base type", () => {
    const l = domain({ constraints: [{ name: "a", definition: "CHECK ((VALUE > 0))", validated: true }] });
    const d = domain({ default: "1", notNull: true, constraints: [{ name: "b", definition: "CHECK ((VALUE < 10))", validated: true }] });
    const how = compareObject(l, d, ctx());
    expect(how.action === "alter" && how.changes.map((c) => c.kind)).toEqual([
      "setDomainDefault",
      "dropDomainConstraint",
      "setDomainNotNull",
      "addDomainConstraint",
      "validateDomainConstraint",
    ]);
    expect(compareObject(l, domain({ ...l, type: "bigint" }), ctx())).toEqual({ action: "recreate" });
  });

  it("drops, retypes and appends composite attributes, re-creates when the order cannot be reached or a column uses a retyped type", () => {
    const how = compareObject(
      composite([
        ["a", "integer"],
        ["b", "text"],
        ["c", "text"],
      ]),
      composite([
        ["a", "bigint"],
        ["c", "text"],
        ["d", "date"],
      ]),
      ctx(),
    );
    expect(how.action === "alter" && how.changes[0]!.kind === "alterCompositeType" && how.changes[0]!.actions).toEqual([
      'DROP ATTRIBUTE "b"',
      'ALTER ATTRIBUTE "a" TYPE bigint',
      'ADD ATTRIBUTE "d" date',
    ]);
    expect(
      compareObject(
        composite([
          ["a", "integer"],
          ["b", "text"],
        ]),
        composite([
          ["b", "text"],
          ["a", "integer"],
        ]),
        ctx(),
      ),
    ).toEqual({ action: "recreate" });
    const used = modelOf(table("t", [column("x", "c", { userType: { schema: "public", name: "c", array: false } })]));
    expect(compareObject(composite([["a", "integer"]]), composite([["a", "bigint"]]), ctx(used))).toEqual({ action: "recreate" });
  });
});

describe("routinesInExpression", () => {
  const model: SchemaModel = { ...emptyModel(), objects: [routine({ name: "next_code", identity: "next_code()" }), routine({ schema: "app", name: "Mixed", identity: "Mixed(integer)" })] };

  it("finds user routines called in canonical expression text, qualified or not", () => {
    expect(routinesInExpression("next_code()", model)).toEqual(["function:public.next_code()"]);
    expect(routinesInExpression('(app."Mixed"(id) > 0)', model)).toEqual(["function:app.Mixed(integer)"]);
    expect(routinesInExpression("lower(name)", model)).toEqual([]);
    expect(routinesInExpression(null, model)).toEqual([]);
  });
});

describe("typesNamedIn", () => {
  const model: SchemaModel = {
    ...emptyModel(),
    enums: [{ schema: "public", name: "st", values: ["a"], comment: null }, { schema: "k", name: "Mood", values: ["ok"], comment: null }],
    objects: [domain({ schema: "public", name: "code", identity: "code" })],
  };

  it("finds the model's types named as cast targets, as PostgreSQL prints them, and nothing inside literals", () => {
    expect(typesNamedIn("CHECK ((s <> 'a'::st))", model)).toEqual(["type:public.st"]);
    expect(typesNamedIn(`(s = ANY ('{a}'::k."Mood"[]))`, model)).toEqual(["type:k.Mood"]);
    expect(typesNamedIn("((c)::text <> 'x'::code) AND (s = 'a'::st)", model)).toEqual(["type:public.code", "type:public.st"]);
    expect(typesNamedIn("(note <> 'see ::st'::text)", model)).toEqual([]);
    expect(typesNamedIn("(x > 0)", model)).toEqual([]);
    expect(typesNamedIn(null, model)).toEqual([]);
  });
});

describe("objectReference", () => {
  it("names routines with their argument types and triggers with their table", () => {
    expect(objectReference(routine())).toBe('"public"."f"(integer)');
    expect(objectReference({ kind: "trigger", schema: "s", name: "t", table: "tbl", identity: "tbl.t", definition: "", constraint: false, enabled: "O", dependsOn: [], comment: null })).toBe(
      '"t" ON "s"."tbl"',
    );
  });
});
