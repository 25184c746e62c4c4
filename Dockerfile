# One image for both Kubernetes roles: `vend serve --engine kubernetes --role controller|gateway` (charts/vend).
# Runs as a non-root user on a read-only root filesystem: the only writable paths are VEND_HOME and /tmp
# (emptyDir volumes in the chart; tsx keeps its transform cache under /tmp).

FROM node:20.20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# no optional packages: the dev chain, stablecoin artifacts and llama.cpp runtime are not used in a cluster
RUN npm ci --omit=dev --omit=optional && npm cache clean --force
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src

FROM node:20.20-bookworm-slim
ENV NODE_ENV=production \
    VEND_HOME=/var/lib/vend
WORKDIR /app
COPY --from=build /app /app
USER 10001:10001
EXPOSE 8402
ENTRYPOINT ["node", "/app/bin/vend"]
CMD ["serve", "--engine", "kubernetes", "--role", "gateway"]
