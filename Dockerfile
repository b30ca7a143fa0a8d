# Comptoir: one process serving GraphQL + REST on PORT and the chat WebSocket on WS_PORT.
#   docker build -t comptoir .
#   docker run -e JWT_SECRET=... -e DATABASE_URL=postgres://... -p 8000:8000 -p 9001:9001 comptoir
# compose.yaml runs two replicas with PostgreSQL and Redis behind nginx.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml requirements.txt README.md ./
COPY comptoir ./comptoir
COPY core ./core
COPY models ./models
COPY resolvers ./resolvers
COPY rest_compat ./rest_compat
COPY schema ./schema
COPY ws ./ws
COPY migrations ./migrations
# The pinned dependencies and Comptoir itself, as wheels: the runtime stage
# installs them without a compiler or the sources.
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt \
 && pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    WS_PORT=9001 \
    DATA_DIR=/var/lib/comptoir \
    LOG_FORMAT=json
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels comptoir \
 && rm -rf /wheels \
 && useradd --system --uid 10001 --home-dir /var/lib/comptoir --shell /usr/sbin/nologin comptoir \
 && mkdir -p /var/lib/comptoir/uploads \
 && chown -R comptoir:comptoir /var/lib/comptoir
USER comptoir
WORKDIR /var/lib/comptoir
VOLUME ["/var/lib/comptoir"]
EXPOSE 8000 9001
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=2)"]
# Migrations run once per deployment (`comptoir migrate`, as compose.yaml
# does), not by every replica at start.
CMD ["comptoir", "serve", "--no-migrate"]
