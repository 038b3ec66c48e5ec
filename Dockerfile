# pharmid's image: the same two commands as anywhere else, `npm ci` then
# `npm start`. See docker-compose.yml for Postgres, Redis and the settings.
FROM node:20-bookworm-slim

ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
WORKDIR /app
RUN chown node:node /app
USER node

# Only what pharmid is built from and reads at run time: never a local
# node_modules, dist or .data (which holds development secrets).
COPY --chown=node:node package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY --chown=node:node bin ./bin
COPY --chown=node:node config ./config
COPY --chown=node:node migrations ./migrations
COPY --chown=node:node src ./src
COPY --chown=node:node views ./views

# Installs dependencies (development ones too: `npm start` compiles the
# TypeScript first) and builds dist/.
RUN npm ci

# Production refuses to start without PHARMID_SECRET_KEY, COOKIE_KEYS and ISSUER.
ENV NODE_ENV=production PORT=3000
EXPOSE 3000
CMD ["npm", "start"]
