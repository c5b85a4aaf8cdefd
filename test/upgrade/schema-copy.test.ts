import { randomBytes } from "node:crypto";
import { describe, expect, test } from "vitest";
import { quoteIdent } from "../../sdk/postgres/quote";
import { prepareGreenSchema } from "../../sdk/upgrade/schema";
import { majors, runOnServer } from "../support/postgres";
import { bluegreen } from "../support/upgrade";

const ok = majors().includes(16) && majors().includes(17);

describe.runIf(ok)("upgrade schema copy", () => {
  test("gives green blue's owners, grants, column grants, revoked PUBLIC defaults and default privileges", async () => {
    const reader = `reader_${randomBytes(3).toString("hex")}`;
    const owner = `owner_${randomBytes(3).toString("hex")}`;
    for (const m of [16, 17]) await runOnServer(m, `CREATE ROLE ${quoteIdent(reader)} NOLOGIN; CREATE ROLE ${quoteIdent(owner)} NOLOGIN`);
    const { blue, green } = await bluegreen(16, 17);
    try {
      const b = await blue.client();
      await b.query(`CREATE SCHEMA app;
        CREATE TABLE app.items (id int PRIMARY KEY, name text, secret text);
        CREATE FUNCTION app.answer() RETURNS int LANGUAGE sql AS 'SELECT 42';
        ALTER TABLE app.items OWNER TO ${owner};
        GRANT USAGE ON SCHEMA app TO ${reader};
        GRANT SELECT ON app.items TO ${reader} WITH GRANT OPTION;
        GRANT SELECT (id, name) ON app.items TO PUBLIC;
        REVOKE EXECUTE ON FUNCTION app.answer() FROM PUBLIC;
        ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO ${reader};`);
      const g = await green.client();
      const result = await prepareGreenSchema(b, g, green.url, { greenMajor: 17 });
      expect(result.source).toBe("copy");
      // A second run finds green converged.
      expect((await prepareGreenSchema(b, g, green.url, { greenMajor: 17 })).steps).toBe(0);
      const state = await g.query(
        `SELECT pg_get_userbyid(c.relowner) AS owner,
                has_table_privilege('${reader}', 'app.items', 'SELECT WITH GRANT OPTION') AS reader,
                has_schema_privilege('${reader}', 'app', 'USAGE') AS usage,
                has_column_privilege('public', 'app.items', 'name', 'SELECT') AS public_name,
                (SELECT count(*)::int FROM pg_default_acl WHERE defaclnamespace = 'app'::regnamespace) AS defaults,
                (SELECT proacl::text FROM pg_proc WHERE proname = 'answer') ~ '(^|[{,])=X' AS public_exec
           FROM pg_class c WHERE c.oid = 'app.items'::regclass`,
      );
      expect(state.rows[0]).toMatchObject({ owner, reader: true, usage: true, public_name: true, defaults: 1, public_exec: false });
    } finally {
      // The roles go once they own and hold nothing in either database.
      for (const db of [blue, green]) await (await db.client()).query(`DROP OWNED BY ${quoteIdent(reader)}, ${quoteIdent(owner)}`);
      for (const m of [16, 17]) await runOnServer(m, `DROP ROLE IF EXISTS ${quoteIdent(reader)}; DROP ROLE IF EXISTS ${quoteIdent(owner)}`).catch(() => undefined);
    }
  });
});
