# One image for the three sqm processes (sqm flow | sqm alerter | sqm api).
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# Pango for weasyprint (the PDF quality reports)
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY sqm ./sqm
COPY sqm_cli ./sqm_cli
COPY sim ./sim
COPY streams ./streams
COPY detectors ./detectors
COPY alerts ./alerts
COPY api ./api
COPY improve ./improve
COPY dashboards ./dashboards
RUN pip install . && useradd --system --home /var/lib/sqm sqm && mkdir -p /var/lib/sqm && chown sqm /var/lib/sqm
USER sqm
ENV SQM_STATE_DIR=/var/lib/sqm
ENTRYPOINT ["sqm"]
CMD ["--help"]
