// `npm run images:dockerfile`: writes the Dockerfiles rendered from images/recipes.ts.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { OPERATOR_IMAGE, POOLER_IMAGE, renderDockerfile, renderPackageDockerfile } from "../images/recipes";

writeFileSync(join(__dirname, "..", "Dockerfile"), renderDockerfile(OPERATOR_IMAGE));
writeFileSync(join(__dirname, "..", "images", `${POOLER_IMAGE.name}.Dockerfile`), renderPackageDockerfile(POOLER_IMAGE));
