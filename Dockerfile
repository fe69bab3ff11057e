# The API image (the GPU compose file's `api` service). Triton itself is NGC's image.
# The packages are the namespace the build context holds (.dockerignore keeps tests, docs, results
# and manifests out), with the API's install tier: no exporter, no training stack.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN useradd --create-home --uid 10001 --user-group modelserve
WORKDIR /app
COPY . /src
# api: the FastAPI front; serve: ONNX Runtime for the lifecycle jobs' parity check (promote,
# reconcile run from this image); postgres: several API replicas share one monitoring store.
RUN pip install '/src[api,serve,postgres]' && rm -rf /src && mkdir -p /data && chown modelserve /data

USER modelserve
EXPOSE 8080
# MODELSERVE_API_WORKERS API processes on the one port (cores to spare: more requests/s). Their
# Prometheus counters meet in PROMETHEUS_MULTIPROC_DIR, emptied at each start, so /metrics
# answers for all of them.
ENV MODELSERVE_API_WORKERS=1 PROMETHEUS_MULTIPROC_DIR=/tmp/api-metrics
CMD ["sh", "-c", "rm -rf \"$PROMETHEUS_MULTIPROC_DIR\" && mkdir -p \"$PROMETHEUS_MULTIPROC_DIR\" && exec uvicorn modelserve.api.app:create_app --factory --host 0.0.0.0 --port 8080 --workers \"$MODELSERVE_API_WORKERS\""]
