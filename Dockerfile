# did_service: issuer and verifier API on gunicorn (sync workers), SQLite store in /data by default.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DID_SERVICE_INSTANCE_DIR=/data

WORKDIR /src
COPY setup.cfg pyproject.toml README.md ./
COPY did_service ./did_service
COPY schemas ./schemas
COPY templates ./templates
RUN pip install --no-cache-dir . && rm -rf /src \
    && useradd --system --uid 10001 --home-dir /data did_service \
    && mkdir -p /data && chown did_service /data

USER did_service
WORKDIR /data
VOLUME ["/data"]
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:5000/readyz').status != 200)"
CMD ["did-service", "serve", "--host", "0.0.0.0", "--port", "5000", "--workers", "2"]
