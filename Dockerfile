FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY simulators ./simulators
COPY airspace ./airspace
COPY launch_sites ./launch_sites
RUN pip install --no-cache-dir -e .
ENV SKYSHARE_NETWORK_FILE=/app/launch_sites/london.yaml \
    SKYSHARE_AIRSPACE_FILE=/app/airspace/london.geojson \
    SKYSHARE_BOROUGHS_FILE=/app/airspace/london_boroughs.geojson
EXPOSE 8000
CMD ["skyshare", "serve", "--host", "0.0.0.0"]
