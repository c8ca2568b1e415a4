// bench:ingest's ceiling, run as its own process with the service's node flags: Fastify
// receiving the same uploads on the same paths and throwing every byte away (no hash, no disk,
// no database, no authentication, no tus): a multipart body through @fastify/multipart, and a
// tus PATCH's raw body. What the HTTP receive path alone costs on this machine, loopback and
// client included, which no upload that stores its bytes can beat.
// PORT from the environment; listens on 127.0.0.1 until SIGTERM.
import multipart from '@fastify/multipart';
import Fastify from 'fastify';

const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
await app.register(multipart);
app.post('/api/v1/cases/:caseId/evidence', async (request, reply) => {
  let bytes = 0;
  for await (const part of request.parts({ limits: { fileSize: Number.MAX_SAFE_INTEGER } })) {
    if (part.type === 'file') for await (const chunk of part.file) bytes += (chunk as Buffer).byteLength;
  }
  return reply.code(201).send({ bytes });
});
app.addContentTypeParser('application/offset+octet-stream', (_request, _payload, done) => done(null));
app.patch('/api/v1/uploads/:id', async (request, reply) => {
  let bytes = 0;
  for await (const chunk of request.raw) bytes += (chunk as Buffer).byteLength;
  return reply.code(204).header('upload-offset', String(Number(request.headers['upload-offset']) + bytes)).send();
});
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
process.once('SIGTERM', () => void app.close());
