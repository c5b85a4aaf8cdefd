// `npx tsx test/support/sweep-cli.ts`: undoes what test runs killed outright left behind — the
// PostgreSQL harness's servers, the S3 servers, real nodes — touching only those whose owner
// process is gone. .ci/run calls it after an interrupt, before its leftover check.
import { readToolchainEnv } from "../../scripts/toolchain/paths.mjs";
import { sweepAbandonedInstances } from "../../sdk/postgres/embedded";
import { sweepRealNodes } from "./real-node/host";
import { sweepAbandonedS3Servers } from "./s3";

const swept = {
  postgres: sweepAbandonedInstances(),
  s3: sweepAbandonedS3Servers(),
  realNodes: sweepRealNodes(readToolchainEnv()?.tools["kube-proxy"]?.path),
};
console.error(`sweep: ${Object.entries(swept).map(([k, n]) => `${k} ${n}`).join(", ")}`);
