// `npx tsx test/support/sweep-cli.ts`: undoes what test runs killed outright left behind — the
// PostgreSQL harness's servers, the S3 servers, real nodes — touching only those whose owner
// process is gone. .ci/run calls it after an interrupt, before its leftover check.
import { readToolchainEnv } from "../../scripts/toolchain/paths.mjs";
import { tmpdir } from "node:os";
import { devScratchDir, sweepAbandonedInstances } from "../../sdk/postgres/embedded";
import { sweepRealNodes } from "./real-node/host";
import { sweepAbandonedS3Servers } from "./s3";

const swept = {
  // Servers live in the temporary directory or, for scratch and shared test servers, on tmpfs.
  postgres: [...new Set([tmpdir(), devScratchDir()])].reduce((n, dir) => n + sweepAbandonedInstances(dir), 0),
  s3: sweepAbandonedS3Servers(),
  realNodes: sweepRealNodes(readToolchainEnv()?.tools["kube-proxy"]?.path),
};
console.error(`sweep: ${Object.entries(swept).map(([k, n]) => `${k} ${n}`).join(", ")}`);
