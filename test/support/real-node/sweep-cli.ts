// Undoes real-node runs whose owner is gone: run by a run's watchdog once its owner exits (the
// owner's own teardown leaves nothing to do then; a killed owner leaves everything).
// Argument: the kube-proxy binary (for `kube-proxy --cleanup`).
import { sweepRealNodes } from "./host";

sweepRealNodes(process.argv[process.argv.length - 1]);
