// `npx tsx test/support/real-node/prewarm-cli.ts`: builds the test images' caches (Debian roots,
// production node_modules; PostgreSQL binaries when dist/ exists) ahead of the tests; .ci/run starts it while the
// toolchain builds. Prints what each took and exits non-zero, naming the problem, when one fails.
import { INSTANCE_IMAGE_RECIPE, OPERATOR_IMAGE, POOLER_IMAGE } from "../../../images/recipes";
import { prewarmImageCaches } from "./images";

try {
  prewarmImageCaches([OPERATOR_IMAGE, INSTANCE_IMAGE_RECIPE, POOLER_IMAGE], (step, seconds) => console.log(`images: ${step} ${seconds}s`));
} catch (err) {
  console.error(`images: ${(err as Error).message}`);
  process.exit(1);
}
