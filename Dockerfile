# syntax=docker/dockerfile:1
# The user-code image of the scorecards code location (docs/deployment.md). It installs exactly
# as `make` and tests/test_package.py do: the hash-checked lock first, then the project without
# dependencies; here the project is the wheel, not an editable checkout. The same image runs
# the code server (default command), Dagster's run and step workers, and can run the webserver
# and daemon too (it has dagster-webserver and dagster-postgres).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the wheel, as `make wheel` builds it (dev lock, no build isolation) -----------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/build && /opt/build/bin/pip install --quiet pip==26.3
COPY requirements-dev.lock ./
RUN /opt/build/bin/pip install --quiet --require-hashes -r requirements-dev.lock
COPY pyproject.toml ./
COPY scorecards ./scorecards
COPY pipelines ./pipelines
COPY assets ./assets
COPY reports ./reports
COPY config ./config
RUN /opt/build/bin/pip wheel --quiet --no-deps --no-build-isolation -w /dist .

# --- runtime --------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
# WeasyPrint: Pango (with its FreeType backend), HarfBuzz and HarfBuzz-Subset (deterministic font
# subsetting, checked by scorecards/render/pdf.py; scripts/system-deps.sh), fontconfig. The page
# fonts ship in the wheel; DejaVu is the fallback for glyphs Inter lacks, as on the dev machines.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 \
      libfontconfig1 fonts-dejavu-core ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/*

# (bytecode is compiled by pip at install time; the runtime user cannot write the venv)
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/home \
    SCORECARDS_CONFIG_DIR=/etc/scorecards \
    SCORECARDS_DATA_DIR=/var/lib/scorecards

RUN python -m venv /opt/venv && /opt/venv/bin/pip install --quiet pip==26.3
COPY requirements.lock /tmp/requirements.lock
RUN pip install --quiet --require-hashes -r /tmp/requirements.lock && rm /tmp/requirements.lock
COPY --from=build /dist/*.whl /tmp/
RUN pip install --quiet --no-deps /tmp/service_scorecards-*.whl && rm /tmp/*.whl \
 && pip check

# Non-root; the config and data folders are normally mounted (ConfigMap/Secret, volume or
# object store), the packaged default config is only the starting point.
RUN groupadd --system --gid 10001 scorecards \
 && useradd --system --uid 10001 --gid scorecards --home-dir /opt/dagster --shell /usr/sbin/nologin scorecards \
 && mkdir -p "$DAGSTER_HOME/storage" "$SCORECARDS_CONFIG_DIR" "$SCORECARDS_DATA_DIR" \
 && python -m scorecards.core.package_files init-config "$SCORECARDS_CONFIG_DIR" \
 && printf 'telemetry:\n  enabled: false\n' > "$DAGSTER_HOME/dagster.yaml" \
 && chown -R scorecards:scorecards /opt/dagster "$SCORECARDS_DATA_DIR"
USER scorecards
WORKDIR /opt/dagster

EXPOSE 4000
# The code server of a user-code deployment, as Compose runs it; the Helm chart builds the same
# command from dagsterApiGrpcArgs and its port (deploy/helm/values.yaml).
CMD ["dagster", "api", "grpc", "--module-name", "pipelines.definitions", "--host", "0.0.0.0", "--port", "4000"]
