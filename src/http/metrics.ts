// Prometheus metrics. They are served on their own listener (CUSTODIA_METRICS_ADDRESS, see
// src/server.ts) so the operator's network sees them and the public API does not.
import type { StatsFs } from 'node:fs';
import { statfs } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
 * The room left on the filesystem of the data directory (evidence, uploads in progress), read
 * at each scrape: an operator can alert well before uploads start failing with "the evidence
 * storage is full". NaN when the directory cannot be read (the rest of the scrape still works).
 */
export function watchStorage(metrics: Metrics, dataDir: string): void {
  const gauge = (name: string, help: string, read: (stats: StatsFs) => number) =>
    new Gauge({
      name,
      help,
      registers: [metrics.registry],
      async collect() {
        this.set(await statfs(dataDir).then(read, () => Number.NaN));
      },
    });
  gauge('custodia_storage_free_bytes', 'Bytes the service may still write on the filesystem of its data directory', (s) => s.bavail * s.bsize);
  gauge('custodia_storage_size_bytes', 'Size of the filesystem of the data directory', (s) => s.blocks * s.bsize);
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
