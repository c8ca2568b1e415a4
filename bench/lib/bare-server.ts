// bench:api's baseline, run as its own process like the service it is compared with: a bare
// Fastify route doing the SELECT that `GET /api/v1/cases/{id}` answers, with node-postgres (a
// pool of 10, as the service's), no authentication, no logging. DATABASE_URL and PORT from the
// environment; listens on 127.0.0.1 until SIGTERM.
import Fastify from 'fastify';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const app = Fastify({ logger: false });
app.get<{ Params: { id: string } }>('/cases/:id', async (request, reply) => {
  const { rows } = await pool.query('SELECT id, reference, title, description, status, version, created_at FROM cases WHERE id = $1', [request.params.id]);
  if (!rows[0]) return reply.code(404).send({ code: 'not_found' });
  return rows[0];
});
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
process.once('SIGTERM', () => {
  void app.close().then(() => pool.end());
});
