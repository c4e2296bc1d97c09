/** A node's stop for tests: closes host, bus and storage in that order, once however often it is called. */
export function stopOnce(host: { close(): Promise<void> }, bus: { close(): Promise<void> }, storage: { close(): Promise<void> }): () => Promise<void> {
  let stopped = false;
  return async () => {
    if (stopped) return;
    stopped = true;
    await host.close();
    await bus.close();
    await storage.close();
  };
}
