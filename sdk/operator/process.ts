/**
 * `NODE_OPTIONS` the operator process runs with: in its image (Dockerfile `ENV`), in the
 * Deployment of the `Operator` component, and in the operator benchmark, which runs it as users do.
 *
 * The heap limit makes V8 collect garbage before the process grows past it: without one, V8 sizes
 * the old generation from the machine's memory and lets garbage pile up (one benchmark run of
 * 1,000 objects reached 291 MB of RSS where the others stayed under 192 MB). 128 MB leaves room:
 * the benchmark's 1,000 `PostgresSchema` objects also ran to the end under a 96 MB limit. The
 * young generation's semi-spaces are capped at 8 MB (16 by default): the reconciles allocate
 * short-lived catalog rows and models in bursts, and more frequent scavenges of a smaller nursery
 * cost less than its RSS (the benchmark's maximum went from 196 to 176 MB). A larger fleet can
 * raise both through the container's `NODE_OPTIONS` (and its memory limit).
 */
export const OPERATOR_NODE_OPTIONS = "--max-old-space-size=128 --max-semi-space-size=8";
