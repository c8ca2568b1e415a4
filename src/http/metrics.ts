// Prometheus metrics. They are served on their own listener (CUSTODIA_METRICS_ADDRESS, see
// src/server.ts) so the operator's network sees them and the public API does not.
import type { StatsFs } from 'node:fs';
import { statfs } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LastCheck } from '../modules/integrity/integrity.history.ts';

export interface Metrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  latency: Histogram<'method' | 'route'>;
  uploads: Counter<'kind' | 'outcome'>;
  uploadedBytes: Counter;
  exports: Counter<'outcome'>;
  custodyAppends: Counter<'action'>;
}

export function createMetrics(withDefaults = true): Metrics {
  const registry = new Registry();
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'custodia_' });
  return {
    registry,
    requests: new Counter({ name: 'custodia_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers: [registry] }),
    latency: new Histogram({
      name: 'custodia_http_request_duration_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
    uploads: new Counter({ name: 'custodia_uploads_total', help: 'Evidence uploads by kind and outcome', labelNames: ['kind', 'outcome'], registers: [registry] }),
    uploadedBytes: new Counter({ name: 'custodia_uploaded_bytes_total', help: 'Evidence bytes stored', registers: [registry] }),
    exports: new Counter({ name: 'custodia_exports_total', help: 'Export jobs by outcome', labelNames: ['outcome'], registers: [registry] }),
    custodyAppends: new Counter({ name: 'custodia_custody_appends_total', help: 'Custody log entries appended', labelNames: ['action'], registers: [registry] }),
  };
}

/**
 * Gauges read at each scrape from one source: prom-client collects every gauge of a scrape at
 * once, and they share one read. NaN when the source has nothing or cannot be read (the rest of
 * the scrape still works).
 */
function gaugesOf<T>(metrics: Metrics, load: () => Promise<T | null>, gauges: [name: string, help: string, read: (value: T) => number][]): void {
  let reading: Promise<T | null> | null = null;
  const current = () =>
    (reading ??= load()
      .catch(() => null)
      .finally(() => (reading = null)));
  for (const [name, help, read] of gauges) {
    new Gauge({
      name,
      help,
      registers: [metrics.registry],
      async collect() {
        const value = await current();
        this.set(value === null ? Number.NaN : read(value));
      },
    });
  }
}

/**
 * The room left on the filesystem of the data directory (evidence, uploads in progress): an
 * operator can alert well before uploads start failing with "the evidence storage is full".
 */
export function watchStorage(metrics: Metrics, dataDir: string): void {
  gaugesOf<StatsFs>(metrics, () => statfs(dataDir), [
    ['custodia_storage_free_bytes', 'Bytes the service may still write on the filesystem of its data directory', (s) => s.bavail * s.bsize],
    ['custodia_storage_size_bytes', 'Size of the filesystem of the data directory', (s) => s.blocks * s.bsize],
  ]);
}

/**
 * What the latest integrity check (`custodia check` or the scheduled job, in whichever process)
 * found, from its record: alert when it found problems, and when it finished longer ago than the
 * schedule allows (a check that crashed or never ran records nothing). NaN before the first one.
 */
export function watchIntegrity(metrics: Metrics, readLast: () => Promise<LastCheck | null>): void {
  gaugesOf(metrics, readLast, [
    ['custodia_integrity_check_finished_seconds', 'When the latest integrity check finished (Unix time)', (check) => check.finishedAt.getTime() / 1000],
    ['custodia_integrity_check_problems', 'Problems the latest integrity check found (blobs not as recorded, custody logs that do not verify)', (check) => check.problemCount],
    ['custodia_integrity_check_blobs', 'Blobs the latest integrity check re-hashed', (check) => check.blobsChecked],
    ['custodia_integrity_check_bytes', 'Bytes the latest integrity check read and hashed', (check) => check.bytesRead],
  ]);
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

export default fp(
  async function metricsPlugin(app: FastifyInstance, options: { metrics?: Metrics | undefined }) {
    const metrics = options.metrics ?? createMetrics(false);
    app.decorate('metrics', metrics);
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const method = request.method;
      metrics.requests.inc({ method, route, status: String(reply.statusCode) });
      metrics.latency.observe({ method, route }, reply.elapsedTime / 1000);
    });
  },
  { name: 'custodia-metrics' },
);
