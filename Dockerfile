# syntax=docker/dockerfile:1
# aivmm serve on the CPU (onnxruntime-node's CPU build, which the npm package carries).
#   docker build -t aivmm:0.1.0 .
#   docker run --rm -p 8080:8080 -e AIVMM_API_KEY=$(openssl rand -hex 24) -v $PWD/models:/models:ro aivmm:0.1.0 \
#     serve --host 0.0.0.0 --port 8080 --model-repository /models
# Untested here: the machines aivmm is developed on have no Docker engine. The build stage runs the same
# install step as .ci/run (test/deploy/dockerfile.test.ts checks it), so CI exercises what this image runs.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
# onnxruntime-node's own install step would download its CUDA libraries; skip it as .ci/run does
# (`aivmm setup cuda` opts in, Dockerfile.cuda).
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY scripts/prepare.mjs ./scripts/prepare.mjs
COPY bin ./bin
COPY src ./src
COPY catalog ./catalog
COPY vendor ./vendor
# install step (as .ci/run): npm ci builds dist/ through the prepare script
RUN npm ci --no-audit --no-fund
# then only the production dependencies go on
RUN npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    AIVMM_CACHE_DIR=/var/cache/aivmm \
    HF_HOME=/var/cache/aivmm/huggingface
RUN groupadd --system --gid 10001 aivmm \
 && useradd --system --uid 10001 --gid aivmm --home-dir /home/aivmm --create-home --shell /usr/sbin/nologin aivmm \
 && mkdir -p /var/cache/aivmm /models \
 && chown aivmm:aivmm /var/cache/aivmm
WORKDIR /opt/aivmm
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
COPY --from=build /src/catalog ./catalog
COPY --from=build /src/vendor ./vendor
RUN ln -s /opt/aivmm/bin/aivmm.js /usr/local/bin/aivmm
USER aivmm:aivmm
EXPOSE 8080
# slim images have no curl: Node's own fetch asks the readiness route (200 once the models are loaded)
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/v2/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["aivmm"]
# Binding 0.0.0.0 needs an API key: without AIVMM_API_KEY the server refuses to start (exit 2).
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
