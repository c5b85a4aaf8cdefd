// `npm run images:dockerfile`: writes the Dockerfile rendered from images/recipes.ts.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { OPERATOR_IMAGE, renderDockerfile } from "../images/recipes";

writeFileSync(join(__dirname, "..", "Dockerfile"), renderDockerfile(OPERATOR_IMAGE));
