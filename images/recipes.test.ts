import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_POOLER_IMAGE } from "../sdk/operator/cluster/pooler";
import { INSTANCE_DOCKERFILE, INSTANCE_IMAGE_RECIPE, instanceImageRecipe, OPERATOR_IMAGE, POOLER_IMAGE, postgresInstallScript, renderDockerfile, renderPackageDockerfile } from "./recipes";

describe("image recipes", () => {
  it("the committed Dockerfile is the one rendered from the operator recipe", () => {
    expect(readFileSync(join(__dirname, "..", "Dockerfile"), "utf8")).toBe(renderDockerfile(OPERATOR_IMAGE));
  });

  it("renders the recipe's packages, environment, user and entry point into the runtime stage", () => {
    const runtime = renderDockerfile(OPERATOR_IMAGE).split("# --- runtime")[1]!;
    expect(runtime).toContain("apt-get install -y --no-install-recommends libnss-wrapper ca-certificates");
    expect(runtime).toContain('ENV NODE_OPTIONS="--max-old-space-size=128 --max-semi-space-size=8"');
    expect(runtime).toContain("USER 1000:1000");
    expect(runtime).toContain('ENTRYPOINT ["node","dist/sdk/operator/main.js"]');
    // Every supported major installed at build time, never downloaded by the running operator.
    expect(runtime).toContain('ENV SETPOINT_POSTGRES_INSTALL="never"');
    expect(runtime).toMatch(/RUN SETPOINT_POSTGRES_INSTALL= node -e .*\[14,15,16,17,18\].*ensurePostgresBinaries/);
  });

  it("the committed instance Dockerfile is the one rendered from the instance recipe", () => {
    expect(readFileSync(join(__dirname, "..", INSTANCE_DOCKERFILE), "utf8")).toBe(renderDockerfile(INSTANCE_IMAGE_RECIPE, INSTANCE_DOCKERFILE));
  });

  it("renders the instance image with one PostgreSQL major chosen by a build argument, the instance manager as its entry point", () => {
    const runtime = renderDockerfile(INSTANCE_IMAGE_RECIPE, INSTANCE_DOCKERFILE).split("# --- runtime")[1]!;
    expect(runtime).toContain("ARG POSTGRES_MAJOR=17\nENV SETPOINT_POSTGRES_MAJOR=$POSTGRES_MAJOR");
    expect(runtime).toContain("apt-get install -y --no-install-recommends libnss-wrapper ca-certificates");
    expect(runtime).toContain("USER 26:26");
    expect(runtime).toContain('ENTRYPOINT ["node","dist/sdk/instance/main.js"]\nCMD ["run"]');
    expect(runtime).toMatch(/RUN SETPOINT_POSTGRES_INSTALL= node -e .*\[Number\(process\.env\.SETPOINT_POSTGRES_MAJOR\)\].*ensurePostgresBinaries/);
    // The test builder's recipe of a major: that major in the image's environment, installed by the same program.
    expect(instanceImageRecipe(15).env.SETPOINT_POSTGRES_MAJOR).toBe("15");
    expect(postgresInstallScript(instanceImageRecipe(15))).toBe(postgresInstallScript(INSTANCE_IMAGE_RECIPE));
    // Same Debian packages as the operator image: the test builder shares its Debian root cache.
    expect([...INSTANCE_IMAGE_RECIPE.packages].sort()).toEqual([...OPERATOR_IMAGE.packages].sort());
  });

  it("the committed pooler Dockerfile is the one rendered from the pooler recipe, whose image the operator's pods run", () => {
    expect(readFileSync(join(__dirname, `${POOLER_IMAGE.name}.Dockerfile`), "utf8")).toBe(renderPackageDockerfile(POOLER_IMAGE));
    expect(DEFAULT_POOLER_IMAGE.startsWith(`${POOLER_IMAGE.name}:`)).toBe(true);
    const text = renderPackageDockerfile(POOLER_IMAGE);
    expect(text).toContain("apt-get install -y --no-install-recommends pgbouncer");
    expect(text).toContain("USER 1000:1000");
    expect(text).toContain('ENTRYPOINT ["/usr/sbin/pgbouncer"]');
  });
});
