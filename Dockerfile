# cddgis app image. The data folder is mounted at /data (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HOST=0.0.0.0 PORT=8000 CDDGIS_DATA_DIR=/data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY cddgis ./cddgis
COPY boundaries ./boundaries
COPY layers ./layers
COPY indicators ./indicators
COPY gis ./gis
COPY web ./web
RUN pip install . && useradd --system --create-home cddgis
USER cddgis
EXPOSE 8000
# Villages are optional (place search falls back to areas without them).
CMD ["sh", "-c", "cddgis migrate && cddgis load boundaries --if-empty && { cddgis load villages --if-empty || true; } && cddgis load indicators --if-empty && cddgis sample --if-empty && cddgis serve"]
