// Shared by the ops tests: free ports, a throwaway embedded PostgreSQL cluster, polling.
import { freePort, startThrowawayPostgres } from '../../scripts/throwaway-postgres.ts';
export { freePort };

export async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

export interface Cluster {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startCluster(): Promise<Cluster> {
  const { url, cluster, remove } = await startThrowawayPostgres({ prefix: 'custodia-ops-pg-', flags: ['-c', 'fsync=off'], persistent: true });
  let running = true;
  return {
    url,
    async start() {
      await cluster.start();
      running = true;
    },
    async stop() {
      await cluster.stop();
      running = false;
    },
    async destroy() {
      if (running) await cluster.stop().catch(() => {});
      await remove();
    },
  };
}
