// The test setup's PgBouncer step (test/support/pgbouncer.ts ensurePgBouncer): an installed binary
// is used as is; where it cannot be installed, one line says what is missing and how to fix it.
// The install path itself runs in global setup on a machine without PgBouncer (root + apt-get).
import { describe, expect, it } from "vitest";
import { ensurePgBouncer } from "../support/pgbouncer";

describe("ensurePgBouncer", () => {
  it("uses an installed PgBouncer without installing anything", () => {
    const lines: string[] = [];
    expect(ensurePgBouncer({ find: () => "/usr/sbin/pgbouncer", canInstall: true, log: (l) => lines.push(l) })).toEqual({ path: "/usr/sbin/pgbouncer", installed: false });
    expect(lines).toEqual([]);
  });

  it("names what is missing and the command that fixes it when it cannot install", () => {
    const lines: string[] = [];
    const result = ensurePgBouncer({ find: () => undefined, canInstall: false, log: (l) => lines.push(l) });
    expect(result).toEqual({
      missing:
        "pgbouncer is not installed and this setup cannot install it (needs root and apt-get); the PgBouncer tests are skipped. Install it with: apt-get install -y --no-install-recommends pgbouncer",
    });
    expect(lines).toEqual([]);
  });
});
