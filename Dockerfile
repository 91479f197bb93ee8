# vast-mcp team server image: `vast-mcp serve` over Streamable HTTP (see README "Team server").
# Not built on the project's machine (no Docker there): checked by test/unit/http-deploy-files.test.ts only.

# ---- build: compile TypeScript, build better-sqlite3 from source, drop dev dependencies ----
FROM node:20-bookworm-slim AS build
# better-sqlite3 compiles its native module with node-gyp.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# No install script runs unasked; the one the server needs (better-sqlite3, approved in package.json
# allowScripts) is run explicitly below, from source, so no prebuilt binary is downloaded.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json biome.json ./
COPY server ./server
COPY tools ./tools
COPY prompts ./prompts
COPY references ./references
COPY sim ./sim
COPY scripts ./scripts
COPY config ./config
RUN npm rebuild better-sqlite3 --build-from-source \
 && npm run build \
 && npm prune --omit=dev --ignore-scripts \
 && node -e "require('better-sqlite3')(':memory:').prepare('select 1').get()"

# ---- runtime: compiled code and production dependencies only, as the unprivileged "node" user ----
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    VAST_MCP_HTTP_HOST=0.0.0.0 \
    VAST_MCP_HTTP_PORT=8787 \
    VAST_MCP_STATE_DIR=/var/lib/vast-mcp
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json ./package.json
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --from=build --chown=root:root /app/references ./references
COPY --from=build --chown=root:root /app/config ./config
RUN mkdir -p /var/lib/vast-mcp && chown node:node /var/lib/vast-mcp && chmod 700 /var/lib/vast-mcp
USER node
VOLUME ["/var/lib/vast-mcp"]
EXPOSE 8787
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8787/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM lets calls in flight finish (VAST_MCP_SHUTDOWN_GRACE_MS) before the process exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/server/main.js"]
# Binding 0.0.0.0 needs authentication: VAST_MCP_AUTH_TOKENS or VAST_MCP_OAUTH_ISSUER (else it refuses to start).
CMD ["serve"]
