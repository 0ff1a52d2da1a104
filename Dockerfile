# tenderhall: the platform in one image. PostgreSQL runs beside it (compose.yaml); blobs and keys live in /data.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TENDERHALL_DATA_DIR=/data \
    TENDERHALL_HOST=0.0.0.0 \
    TENDERHALL_PORT=8000

# CJK fonts for the signed PDFs (opening records, reports); poppler for operators' pdfsig/pdftotext checks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-wqy-zenhei poppler-utils \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY trading ./trading
COPY deposits ./deposits
COPY expert_pool ./expert_pool
COPY evaluation ./evaluation
RUN pip install . \
 && useradd --system --uid 10001 --home-dir /data tenderhall \
 && mkdir -p /data && chown tenderhall /data

USER tenderhall
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health').status != 200)"
CMD ["sh", "-c", "tenderhall db upgrade && tenderhall serve --host 0.0.0.0"]
