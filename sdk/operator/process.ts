/**
 * `NODE_OPTIONS` the operator process runs with: in its image (Dockerfile `ENV`), in the
 * Deployment of the `Operator` component, and in the operator benchmark, which runs it as users do.
 *
 * The heap limit makes V8 collect garbage before the process grows past it: without one, V8 sizes
 * the old generation from the machine's memory and lets garbage pile up (one benchmark run of
 * 1,000 objects reached 291 MB of RSS where the others stayed under 192 MB). 128 MB leaves room:
 * the benchmark's 1,000 `PostgresSchema` objects also ran to the end under a 96 MB limit. A larger
 * fleet can raise it through the container's `NODE_OPTIONS` (and its memory limit).
 */
export const OPERATOR_NODE_OPTIONS = "--max-old-space-size=128";
