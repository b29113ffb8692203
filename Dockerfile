# One image for every service of docker-compose.yml: the user-code gRPC server (and the runs it starts), the Dagster
# webserver and daemon, the init step and the Streamlit dashboard.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DAGSTER_HOME=/dagster_home
WORKDIR /app
COPY pyproject.toml README.md ./
COPY engine engine
COPY warehouse warehouse
COPY resources resources
COPY assets assets
COPY pipelines pipelines
COPY orchestration orchestration
COPY dashboards dashboards
COPY deploy deploy
COPY data data
COPY symphonies symphonies
RUN pip install --no-cache-dir -e . \
    && mkdir -p /dagster_home/storage \
    && cp deploy/dagster.yaml /dagster_home/dagster.yaml \
    && useradd --create-home --uid 10001 oragami \
    && chown -R oragami /dagster_home
USER oragami
EXPOSE 3000 4000 8501
