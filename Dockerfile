# Three images from one file, as docker-compose.yml builds them (targets `proxy`, `pgbouncer`,
# `app`; plain `docker build .` gives the app). The proxy and the pool are Debian's own nginx
# (with brotli) and PgBouncer, with the configuration scripts/production.sh renders
# (scripts/prod/compose/, from the same templates). The data folder is mounted at /data.

FROM debian:bookworm-slim AS proxy
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx libnginx-mod-http-brotli-filter \
       libnginx-mod-http-brotli-static \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/cddgis-proxy/nginx && chown -R www-data: /var/lib/cddgis-proxy
COPY scripts/prod/compose/nginx.conf /etc/cddgis/nginx.conf
USER www-data
EXPOSE 8080
CMD ["nginx", "-c", "/etc/cddgis/nginx.conf", "-e", "stderr", "-g", "daemon off;"]

FROM debian:bookworm-slim AS pgbouncer
RUN apt-get update \
    && apt-get install -y --no-install-recommends pgbouncer \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/cddgis-pool && chown postgres: /var/lib/cddgis-pool
COPY scripts/prod/compose/pgbouncer.ini /etc/cddgis/pgbouncer.ini
# PgBouncer refuses to run as root; the password comes from the environment, never the image.
USER postgres
EXPOSE 6432
CMD ["sh", "-c", "printf '\"cddgis_app\" \"%s\"\\n' \"$CDDGIS_APP_DB_PASSWORD\" > /var/lib/cddgis-pool/users.txt && chmod 600 /var/lib/cddgis-pool/users.txt && exec pgbouncer /etc/cddgis/pgbouncer.ini"]

FROM python:3.11-slim AS app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HOST=0.0.0.0 PORT=8000 CDDGIS_DATA_DIR=/data
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY cddgis ./cddgis
COPY core ./core
COPY boundaries ./boundaries
COPY layers ./layers
COPY indicators ./indicators
COPY gis ./gis
COPY web ./web
RUN pip install . -c constraints.txt && useradd --system --create-home cddgis
USER cddgis
EXPOSE 8000
# One container alone loads everything and serves; docker-compose.yml runs these steps once
# (service `load`) and the replicas only serve.
# Villages are optional (place search falls back to areas without them).
CMD ["sh", "-c", "cddgis migrate && cddgis load boundaries --if-empty && { cddgis load villages --if-empty || true; } && cddgis load indicators --if-empty && cddgis sample --if-empty && cddgis serve"]
