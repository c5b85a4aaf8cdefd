/**
 * Reads the HTTP status of a failed Kubernetes API call from the error's structured `code`
 * (client-node's `ApiException`), never from its message.
 */

/**
 * The HTTP status code carried by `err`, or `undefined` when it carries none (e.g. a network
 * error).
 * @param err anything a client-node API call rejected with.
 */
export function apiStatusCode(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === "number" ? code : undefined;
}
