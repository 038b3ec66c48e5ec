# pharmid's image. Built in two stages: the first installs every dependency
# and compiles the TypeScript; the second keeps only the compiled code and the
# production dependencies, and runs as the unprivileged `node` user. Nothing
# is compiled when a container starts. See docker-compose.yml for Postgres,
# Redis, a mail catcher and two replicas behind a proxy.

# Node 22 LTS: the release line oidc-provider supports (no "Unsupported runtime" warning).
FROM node:22-bookworm-slim AS build
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
WORKDIR /app
# Only what pharmid is built from: never a local node_modules, dist or .data
# (which holds development secrets).
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY config ./config
COPY src ./src
COPY bench ./bench
COPY examples ./examples
# `npm ci` installs everything and compiles dist/ (the `prepare` script); then
# the development packages (TypeScript, jest, …) are removed.
RUN npm ci && npm prune --omit=dev

FROM node:22-bookworm-slim
ENV NODE_ENV=production PORT=3000 PHARMID_DATA_DIR=/data \
    NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
WORKDIR /app
# The code belongs to root and is only read by the `node` user that runs it.
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY migrations ./migrations
COPY views ./views
# The data folder (the mail outbox without SMTP_URL; the embedded Postgres if
# no DATABASE_URL is given): a volume in docker-compose.yml.
RUN mkdir -p /data && chown node:node /data
VOLUME /data
USER node
EXPOSE 3000
# Ready only when Postgres and Redis both answer; the slim image has no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/readyz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Production refuses to start without PHARMID_SECRET_KEY, COOKIE_KEYS, ISSUER and TRUST_PROXY.
# pharmid itself is PID 1's child through `init: true` (compose) or `docker run --init`:
# it finishes the requests in flight on SIGTERM, then stops.
CMD ["node", "dist/src/main.js"]
