// `npm run images:dockerfile`: writes the Dockerfiles rendered from images/recipes.ts (the operator's, the instance image's).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { INSTANCE_DOCKERFILE, INSTANCE_IMAGE_RECIPE, OPERATOR_IMAGE, renderDockerfile } from "../images/recipes";

writeFileSync(join(__dirname, "..", "Dockerfile"), renderDockerfile(OPERATOR_IMAGE));
writeFileSync(join(__dirname, "..", INSTANCE_DOCKERFILE), renderDockerfile(INSTANCE_IMAGE_RECIPE, INSTANCE_DOCKERFILE));
