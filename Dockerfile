# One image for the Dagster webserver, the Dagster daemon and the Streamlit dashboard.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY engine engine
COPY warehouse warehouse
COPY assets assets
COPY pipelines pipelines
COPY orchestration orchestration
COPY dashboards dashboards
COPY data data
COPY symphonies symphonies
COPY workspace.yaml dagster.yaml ./
RUN pip install --no-cache-dir -e . && mkdir -p /dagster_home && cp dagster.yaml /dagster_home/
ENV DAGSTER_HOME=/dagster_home
