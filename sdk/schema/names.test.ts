import { describe, expect, it } from "vitest";
import { chosenIndexName } from "./names";

describe("chosenIndexName", () => {
  it("names an index as PostgreSQL's ChooseIndexName does", () => {
    expect(chosenIndexName("pi1", "CREATE INDEX x ON public.pi1 USING btree (k)")).toBe("pi1_k_idx");
    expect(chosenIndexName("pi1", "CREATE INDEX x ON public.pi1 USING btree (k, j DESC NULLS LAST)")).toBe("pi1_k_j_idx");
    expect(chosenIndexName("pi1", "CREATE INDEX x ON public.pi1 USING btree (lower(name), \"Odd\" text_pattern_ops) INCLUDE (v) WHERE (k > 0)")).toBe("pi1_expr_Odd_v_idx");
    expect(chosenIndexName("t".repeat(40), `CREATE INDEX x ON public.t USING btree (${"c".repeat(40)})`)).toBe(`${"t".repeat(29)}_${"c".repeat(29)}_idx`);
    expect(chosenIndexName("t", "CREATE INDEX x ON public.t (k)")).toBeNull();
  });
});
