# syntax=docker/dockerfile:1
# Images of the local server and the webhook receiver, built from this source tree and the package
# index only:  docker build --target server -t budai-server .  /  --target receiver -t budai-receiver .
# compose.yaml runs both with Redis; docs/deploy.md explains the settings.

FROM python:3.12-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN useradd --create-home --uid 10001 budai
COPY pyproject.toml README.md LICENSE CHANGELOG.md ./
COPY budai_async ./budai_async
COPY budai_server ./budai_server
COPY receiver ./receiver

FROM base AS server
# The project itself, from this tree; its dependencies are bounded in pyproject.toml.
# hadolint ignore=DL3013
RUN pip install ".[server,redis]" \
    && mkdir -p /data \
    && chown budai /data
USER 10001
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2)"]
ENTRYPOINT ["budai-server", "--host", "0.0.0.0", "--port", "8080", "--db", "/data/budai.db"]

FROM base AS receiver
# hadolint ignore=DL3013
RUN pip install ".[receiver,redis]" "gunicorn==27.0.1"
USER 10001
EXPOSE 8090
HEALTHCHECK --interval=10s --timeout=3s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8090/healthz', timeout=2)"]
# Several workers share the Redis store; with a SQLite store use --workers 1.
CMD ["gunicorn", "receiver.gunicorn:create_app", "--worker-class", "aiohttp.GunicornWebWorker", "--workers", "2", "--bind", "0.0.0.0:8090", "--graceful-timeout", "15"]
