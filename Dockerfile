# Licensary in one image: `licensary up` (migrate, the web server and the worker) by default;
# run more containers with `licensary worker` for more workers (PostgreSQL).
# Dependencies come from uv.lock only (`uv sync --frozen`): the build fails if the lock is stale.

FROM python:3.11-slim-bookworm AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# The dependencies first, in their own layer: a change to the code does not reinstall them.
COPY pyproject.toml uv.lock ./
COPY clients ./clients
RUN uv sync --frozen --no-dev --no-install-project --no-install-workspace
COPY README.md ./
COPY src ./src
RUN uv sync --frozen --no-dev --no-editable

FROM python:3.11-slim-bookworm
# pg_dump/pg_restore/psql for `licensary backup` and `restore` on PostgreSQL; gettext is not
# needed at run time (the .mo files are committed).
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 licensary \
    && useradd --system --uid 10001 --gid licensary --home-dir /app --shell /usr/sbin/nologin licensary \
    && mkdir -p /data && chown licensary:licensary /data && chmod 0700 /data
COPY --from=build --chown=root:root /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    LICENSARY_HOME=/app \
    LICENSARY_DATA_DIR=/data
WORKDIR /app
# The SQLite database, uploads (receipts, identity, attachments), the generated secret key and
# the audit head file live here: keep it on a volume and back it up with `licensary backup`.
VOLUME ["/data"]
USER licensary:licensary
EXPOSE 8000
# An existing URL that reads the database: the published signing keys. The Host header is the
# first allowed host; X-Forwarded-Proto keeps LICENSARY_SECURE's redirect from answering 301.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os,urllib.request as u; h=(os.environ.get('LICENSARY_ALLOWED_HOSTS') or 'localhost').split(',')[0].strip().lstrip('.'); r=u.urlopen(u.Request('http://127.0.0.1:8000/api/v1/verify/keys', headers={'Host': h, 'X-Forwarded-Proto': 'https'}), timeout=4); raise SystemExit(r.status != 200)"]
CMD ["licensary", "up", "--host", "0.0.0.0", "--port", "8000"]
