# KAN Workbench: the same server as `kan-workbench serve`, data dir on a volume at /data.
# No secrets here: session tokens are created at run time and live in /data.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KAN_WB_DATA_DIR=/data \
    KAN_WB_WEB_DIR=/app/web \
    KAN_WB_HOST=0.0.0.0 \
    KAN_WB_PORT=8000

WORKDIR /app

# The CPU build of torch first (a plain `pip install torch` pulls a multi-GB CUDA build).
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

COPY pyproject.toml README.md ./
COPY kan_core ./kan_core
COPY server ./server
COPY web ./web
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 10001 workbench \
    && mkdir -p /data \
    && chown 10001:10001 /data

USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4).status == 200 else 1)"]

CMD ["kan-workbench", "serve", "--host", "0.0.0.0", "--port", "8000", "--data-dir", "/data"]
