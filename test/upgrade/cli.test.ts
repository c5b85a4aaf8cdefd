import { describe, expect, test } from "vitest";
import { main } from "../../sdk/cli/main";
import { acquireUpgradeLock } from "../../sdk/upgrade/lock";
import { majors } from "../support/postgres";
import { bluegreen, seedApp, upgradeLeftovers } from "../support/upgrade";

const ok = majors().includes(16) && majors().includes(17);

function capture(): { io: { stdout: (t: string) => void; stderr: (t: string) => void }; out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return { io: { stdout: (t) => (out += t), stderr: (t) => (err += t) }, out: () => out, err: () => err };
}

describe.runIf(ok)("setpoint upgrade", () => {
  test("plan, run to synchronized, run to switched, finalize: state kept on blue between invocations", async () => {
    const { blue, green } = await bluegreen(16, 17);
    await seedApp(await blue.client(), 5, 50);
    const flags = ["--blue", blue.url, "--green", green.url];

    const plan = capture();
    expect(await main(["upgrade", "plan", ...flags], plan.io)).toBe(0);
    expect(plan.out()).toMatch(/phase: new\nsteps: preflight → schema → replicate → synchronize → cutover\npreflight: ok \(blue PostgreSQL 16, 3 table\(s\)/);

    const staged = capture();
    expect(await main(["upgrade", "run", ...flags, "--until", "synchronized"], staged.io), staged.err()).toBe(0);
    expect(staged.out()).toMatch(/synchronize: Succeeded .*\nphase: synchronized\n$/);
    expect(staged.err()).toMatch(/\[synchronize\] every table copied and streaming/);

    // Before the switch there is nothing to follow.
    const early = capture();
    expect(await main(["upgrade", "follow", ...flags], early.io)).toBe(0);
    expect(early.out()).toBe("phase: synchronized\nnothing to follow: only a switched upgrade, before finalize and with no rollback under way, follows green\n");

    const replan = capture();
    expect(await main(["upgrade", "plan", ...flags, "--format", "json"], replan.io)).toBe(0);
    expect(JSON.parse(replan.out())).toMatchObject({ phase: "synchronized", steps: ["cutover"], preflight: null, refusal: null });
    const planFinalize = capture();
    expect(await main(["upgrade", "plan", ...flags, "--finalize"], planFinalize.io)).toBe(0);
    expect(planFinalize.out()).toBe("phase: synchronized\nsteps: cutover → finalize\n");
    const planRollback = capture();
    expect(await main(["upgrade", "plan", ...flags, "--rollback"], planRollback.io)).toBe(0);
    expect(planRollback.out()).toBe("phase: synchronized\nsteps: rollback\n");

    // Another driver (here standing in for the operator) runs an upgrade of this blue database: refused, named.
    const held = await acquireUpgradeLock(blue.url, { driver: "operator" });
    const busy = capture();
    try {
      expect(await main(["upgrade", "run", ...flags], busy.io)).toBe(2);
    } finally {
      await held.release();
    }
    expect(busy.err()).toMatch(/^\[lock\] waiting up to 5 s for another runner of an upgrade of this database: operator \(pid \d+ on /);
    expect(busy.err()).toMatch(/setpoint: another runner is running an upgrade of this blue database: operator \(pid \d+ on .*\(waited 5 s\); nothing was changed/);

    const run = capture();
    expect(await main(["upgrade", "run", ...flags, "--format", "json"], run.io)).toBe(0);
    const result = JSON.parse(run.out()) as { phase: string; verification: { equal: boolean } };
    expect(result.phase).toBe("switched");
    expect(result.verification.equal).toBe(true);

    // Switched: green named anew (here its connection string changed, as a failover's new address
    // changes it): `follow` reconnects blue's rollback subscription to it, once.
    const same = capture();
    expect(await main(["upgrade", "follow", ...flags], same.io), same.err()).toBe(0);
    expect(same.out()).toBe("phase: switched\ntraffic: no switch given\nrollback path: intact\n");
    const moved = `${green.url}${green.url.includes("?") ? "&" : "?"}application_name=green_moved`;
    const follow = capture();
    expect(await main(["upgrade", "follow", "--blue", blue.url, "--green", moved, "--format", "json"], follow.io), follow.err()).toBe(0);
    expect(JSON.parse(follow.out())).toEqual({ phase: "switched", traffic: "none", rollbackPath: "reconnected", lost: null });
    expect(follow.err()).toMatch(/\[follow\] blue's rollback subscription reads green's primary at its new address/);
    const c = await blue.client();
    expect((await c.query<{ moved: boolean }>("select bool_and(subconninfo like '%green_moved%') as moved from pg_subscription where subdbid = (select oid from pg_database where datname = current_database())")).rows[0]!.moved).toBe(true);
    const again = capture();
    expect(await main(["upgrade", "follow", "--blue", blue.url, "--green", moved], again.io)).toBe(0);
    expect(again.out()).toBe("phase: switched\ntraffic: no switch given\nrollback path: intact\n");

    const fin = capture();
    expect(await main(["upgrade", "finalize", ...flags], fin.io), fin.err()).toBe(0);
    expect(fin.out()).toMatch(/phase: finalized/);
    expect(await upgradeLeftovers(blue)).toEqual([]);
    expect(await upgradeLeftovers(green)).toEqual([]);

    const noRollback = capture();
    expect(await main(["upgrade", "plan", ...flags, "--rollback"], noRollback.io)).toBe(2);
    expect(noRollback.out()).toBe("phase: finalized\nsteps: (none)\nrefused: UPGRADE_FINALIZED: the upgrade was finalized, so its rollback path no longer exists\n");
    const forget = capture();
    expect(await main(["upgrade", "forget", ...flags], forget.io), forget.err()).toBe(0);
    expect(forget.err()).toMatch(/\[forget\] the upgrade is finalized: forgetting it/);
    expect((await (await blue.client()).query("SELECT key FROM setpoint.upgrades")).rows).toEqual([]);
  });

  test("a preflight refusal exits 2 with the findings and their fixes; bad flags exit 1", async () => {
    const { blue, green } = await bluegreen(16, 17);
    await (await blue.client()).query(`CREATE TABLE no_key (a int)`);
    const flags = ["--blue", blue.url, "--green", green.url];
    const run = capture();
    expect(await main(["upgrade", "run", ...flags], run.io)).toBe(2);
    expect(run.err()).toMatch(/\[NO_REPLICA_IDENTITY\] table "public"."no_key" has no primary key/);
    expect(run.err()).toMatch(/fix: add a primary key/);
    const bad = capture();
    expect(await main(["upgrade", "run", ...flags, "--until", "tomorrow"], bad.io)).toBe(1);
    expect(bad.err()).toMatch(/--until must be schema-ready, synchronized or switched, not "tomorrow"/);
    const missing = capture();
    expect(await main(["upgrade", "plan", "--blue", blue.url], missing.io)).toBe(1);
    expect(missing.err()).toMatch(/--green is required/);
  });
});
