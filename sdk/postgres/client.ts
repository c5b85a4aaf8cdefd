// The one way this codebase makes a node-postgres client.
//
// node-postgres reports an error that arrives while no query is running (the server shut down,
// a failover terminated the backend, the network dropped an idle connection) as an 'error' event
// on the client. Node treats an 'error' event without a listener as an uncaught exception: the
// operator, the instance manager, the CLI or a test process would die from a server dying. The
// listener here keeps the process alive; the client is then unusable and its next query, or the
// query in flight, rejects with the connection's error, which is where callers handle it.
import { Client, type ClientConfig } from "pg";

/** A new (not yet connected) client whose connection errors reach its queries, never the process. */
export function pgClient(config?: string | ClientConfig): Client {
  const client = new Client(config);
  client.on("error", () => undefined);
  return client;
}
