// Prometheus metrics. They are served on their own listener (CUSTODIA_METRICS_ADDRESS, see
// src/server.ts) so the operator's network sees them and the public API does not.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
