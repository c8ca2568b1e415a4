# Custodia: `docker build -t custodia .` then
#   docker run -p 3000:3000 -v custodia-data:/data custodia
#   docker run -i -v custodia-data:/data custodia npm run --silent custodia -- user create --email a@example.org --display-name Ada --role admin --password-stdin
# Without DATABASE_URL the embedded PostgreSQL lives in the /data volume with the keys and evidence.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# argon2 builds from source when no prebuilt binary fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY prisma ./prisma
COPY prisma.config.ts tsconfig.json ./
# Install scripts run (argon2's native build; postinstall generates the Prisma client with the
# prisma devDependency, which is why generation happens here and not in the runtime image).
RUN npm ci
COPY . .
# The client again for the copied sources, then dist/ (compiled JavaScript: no TypeScript at run time).
RUN node scripts/generate-prisma.mjs \
 && node scripts/build.mjs \
 && npm prune --omit=dev

FROM node:20-bookworm-slim
# glibc gives every thread that allocates an arena of its own (V8's compiler and GC threads, the
# libuv pool); memory freed there stays resident. Two arenas: 20-35 MB less resident memory
# for `serve`, idle and during uploads (npm run bench:ingest).
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    CUSTODIA_DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
# The embedded PostgreSQL refuses to run as root: the service runs as an unprivileged user.
RUN groupadd --system custodia \
 && useradd --system --gid custodia --home-dir /app --shell /usr/sbin/nologin custodia \
 && mkdir -p /data \
 && chown custodia:custodia /data
COPY --from=build --chown=root:root /app/package.json /app/package-lock.json ./
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/bin ./bin
COPY --from=build --chown=root:root /app/dist ./dist
COPY --from=build --chown=root:root /app/migrations ./migrations
RUN ln -s /app/bin/custodia.js /usr/local/bin/custodia
USER custodia
VOLUME /data
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# What `npm start` runs (the same flags: a test compares them), without npm in between: npm does
# not pass SIGTERM on, so `docker stop` would kill the service instead of letting it finish
# requests and stop PostgreSQL cleanly. The image holds dist/ and no src/, so bin/custodia.js
# runs the build. The two V8 flags are for uploads. Each 64 KiB a socket delivers is a new
# buffer, garbage at once, and V8 counts such memory allocated since its last full collection
# against the old generation's limit: with the defaults (old generation ~40 MB, growing by ~25 MB)
# the garbage of a fast upload reaches that limit every ~70 ms, and a full collection follows
# each time (110 during one 4 GiB upload). --heap-growing-percent=50 leaves half the old
# generation's size again before the next one (a few full collections instead);
# --max-semi-space-size=2 (MiB; default 16) collects the young buffers sooner, so less garbage is
# resident at once. Measured with npm run bench:ingest: the server's CPU per GiB uploaded 4.4 ->
# 2.4 s, peak resident memory -25 MB; bench:api: a few per cent fewer requests per second. The
# scavenges ingest asks for (src/storage/young-garbage.ts) free the buffers but do not replace the
# flags: without --heap-growing-percent, a 4 GiB upload and two downloads of it still set off 93
# full collections (8 with 50, 6 with 100). 100 let the old generation, which each upload's
# request objects reach, grow to twice its live size: over 30 uploads the service crept from 168
# to 197 MiB resident, where 50 holds it at 167-170 MiB, at the same speed; without the
# semi-space flag the idle service holds ~28 MB more.
CMD ["node", "--max-semi-space-size=2", "--heap-growing-percent=50", "bin/custodia.js", "serve"]
