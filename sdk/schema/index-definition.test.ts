import { describe, expect, it } from "vitest";
import { indexOptionsOf, withIndexOptions, withoutIndexOptions } from "./index-definition";

describe("storage parameters in a constraint definition", () => {
  it("go before the deferral clause, sorted, and come back out as name=value", () => {
    const def = withIndexOptions("UNIQUE (code) INCLUDE (id) DEFERRABLE INITIALLY DEFERRED", ["fillfactor=80", "deduplicate_items=off"]);
    expect(def).toBe(`UNIQUE (code) INCLUDE (id) WITH ("deduplicate_items"='off', "fillfactor"='80') DEFERRABLE INITIALLY DEFERRED`);
    expect(indexOptionsOf(def)).toEqual(["deduplicate_items=off", "fillfactor=80"]);
    expect(withoutIndexOptions(def)).toBe("UNIQUE (code) INCLUDE (id) DEFERRABLE INITIALLY DEFERRED");
  });

  it("leave a definition without options as it is", () => {
    expect(withIndexOptions("PRIMARY KEY (id)", null)).toBe("PRIMARY KEY (id)");
    expect(withIndexOptions("PRIMARY KEY (id)", [])).toBe("PRIMARY KEY (id)");
    expect(indexOptionsOf("PRIMARY KEY (id)")).toEqual([]);
  });
});
