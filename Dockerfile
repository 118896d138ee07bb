# syntax=docker/dockerfile:1
# One image for `palisade server`, `palisade worker` and `palisade agent`.
# Runs as a numeric non-root user and works with a read-only root filesystem: everything it
# writes goes to PALISADE_DATA_DIR (/var/lib/palisade) and /tmp, mounted as volumes.
# Build: docker build -t ghcr.io/palisade-security/palisade:0.1.0 .

# Node 22 (maintained LTS until April 2027); Node 20 reached end of life in April 2026.
FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PALISADE_HOST=0.0.0.0 \
    PALISADE_DATA_DIR=/var/lib/palisade
WORKDIR /app
COPY --from=build --chown=0:0 /src/package.json ./package.json
COPY --from=build --chown=0:0 /src/node_modules ./node_modules
COPY --from=build --chown=0:0 /src/dist ./dist
# The dashboard: the server serves it from web/dist beside dist/ (src/server/routes/web.ts).
COPY --from=build --chown=0:0 /src/web/dist ./web/dist
# The data directory belongs to the runtime user; Kubernetes mounts an emptyDir over it.
RUN mkdir -p /var/lib/palisade && chown 10001:10001 /var/lib/palisade
# The agent's eBPF host sensor runs Debian's bpftrace (tracepoints, BTF; LLVM included, ~100 MB).
# It needs CAP_BPF, CAP_PERFMON, CAP_SYS_RESOURCE (and CAP_SYS_NICE to page out code it no longer runs) at run time, not privileged (docs/agent.md).
RUN apt-get update \
 && apt-get install -y --no-install-recommends bpftrace \
 && rm -rf /var/lib/apt/lists/*
# The agent looks up containers with crictl when it is on PATH (not packaged in Debian 12):
# add it in your own build stage if your nodes run containerd or CRI-O.
USER 10001:10001
VOLUME ["/var/lib/palisade"]
EXPOSE 8080 8443
ENTRYPOINT ["node", "dist/bin/palisade.js"]
CMD ["server"]
