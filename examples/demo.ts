// `npm run demo`: the guided tour. Until the Pulumi quickstart lands it starts an embedded
// PostgreSQL server, prints its version, and stops it again.
import { DEFAULT_MAJOR, startEmbeddedPostgres } from "../sdk/postgres/index";

async function main(): Promise<void> {
  console.log(`starting embedded PostgreSQL ${DEFAULT_MAJOR} ...`);
  const pg = await startEmbeddedPostgres({ major: DEFAULT_MAJOR });
  try {
    console.log(`listening on ${pg.host}:${pg.port}`);
    console.log(pg.version);
  } finally {
    await pg.stop();
    console.log("stopped; nothing left behind");
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
