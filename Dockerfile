# Docket: slim, non-root, with a health check. Build: docker build -t docket .
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml requirements.lock README.md alembic.ini ./
COPY events events
COPY projections projections
COPY service service
COPY migrations migrations
# The locked versions, hashes checked (as `make run` installs them), then Docket itself.
RUN pip wheel --no-cache-dir --wheel-dir /wheels --require-hashes -r requirements.lock \
 && pip wheel --no-cache-dir --wheel-dir /wheels --no-deps .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DOCKET_ENVIRONMENT=production DOCKET_LOG_FORMAT=json \
    DOCKET_SIGNING_KEY_FILE=/run/secrets/docket-signing.key
RUN useradd --create-home --uid 10001 docket
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels /wheels/* && rm -rf /wheels
USER docket
WORKDIR /home/docket
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
# The default is the one-container layout (`docker run`, e.g. on SQLite): migrate, then one
# `docket serve` with the background work inside it. docker-compose.yml runs the measured
# layout instead (docs/OPERATIONS.md): `docket migrate` once, API processes with
# DOCKET_SERVE_BACKGROUND=false, and one `docket work`, each overriding this command.
CMD ["sh", "-c", "docket migrate && exec docket serve --host 0.0.0.0 --port 8000"]
