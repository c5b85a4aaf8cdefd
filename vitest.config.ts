import { defineConfig } from "vitest/config";

// Two tiers: unit tests beside the code, and tests against real systems in test/.
// Integration tests share one PostgreSQL server per major (test/support/global-setup.ts) and
// run in at most two workers: the machine has two cores.
export default defineConfig({
  test: {
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: process.env.SETPOINT_TEST_REPORT ? ["default", "json"] : ["default"],
    outputFile: process.env.SETPOINT_TEST_REPORT ? { json: process.env.SETPOINT_TEST_REPORT } : undefined,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["sdk/**/*.test.ts", "components/**/*.test.ts", "images/**/*.test.ts"],
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          globalSetup: ["test/support/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
