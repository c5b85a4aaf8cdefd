// `npm run images:dockerfile`: writes the Dockerfiles rendered from images/recipes.ts (the operator's, the instance image's, the pooler's).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { INSTANCE_DOCKERFILE, INSTANCE_IMAGE_RECIPE, OPERATOR_IMAGE, POOLER_IMAGE, renderDockerfile, renderPackageDockerfile } from "../images/recipes";

writeFileSync(join(__dirname, "..", "Dockerfile"), renderDockerfile(OPERATOR_IMAGE));
writeFileSync(join(__dirname, "..", INSTANCE_DOCKERFILE), renderDockerfile(INSTANCE_IMAGE_RECIPE, INSTANCE_DOCKERFILE));
writeFileSync(join(__dirname, "..", "images", `${POOLER_IMAGE.name}.Dockerfile`), renderPackageDockerfile(POOLER_IMAGE));
