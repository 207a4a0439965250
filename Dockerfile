# OpenCI Relay: a build stage that compiles the TypeScript, and a runtime stage with production
# dependencies only, run as the image's unprivileged `node` user. See docs/deployment.md.
# Needs BuildKit (Docker's default builder since 23.0) for the npm cache mounts.
# scripts/check-image.mjs performs the runtime stage's steps for real without a Docker engine
# (its COPYs, RUNs, ENV, USER, HEALTHCHECK and CMD are read from this file): keep its RUN lines
# to relative paths.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts are needed to compile (they fetch or check native tools of dev-only packages).
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
# The lockfile already holds package.json's `overrides` (msgpackr-extract 3.0.4: its prebuilt
# binary comes as an optional package, so its install script has nothing to build).
# TypeScript is also removed: npm keeps it under --omit=dev because @bull-board/api's valibot names
# it as an optional peer (for its types); nothing loads it at run time.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/typescript node_modules/.bin/tsc node_modules/.bin/tsserver
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY schema ./schema
COPY openci-map.yml ./
# The files stay root's and read-only to the relay, which writes nothing: set REDIS_URL (without it
# the relay would start a private redis-server, which this image does not have). Numeric, so that
# Kubernetes' runAsNonRoot can check it: 1000 is the image's `node` user.
USER 1000:1000
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Not `npm start`: its prestart step would compile again, with tools this image does not have.
CMD ["node", "dist/index.js"]
