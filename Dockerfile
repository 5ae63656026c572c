# syntax=docker/dockerfile:1
# Modelport for serving: the base install (no extras, so no PyTorch; the built-in models ship
# as ONNX files in the wheel), run by an unprivileged user, on a read-only root file system.
#
#   docker build -t modelport:0.1.0 .
#   docker run --read-only --tmpfs /tmp --tmpfs /var/lib/modelport -p 8000:8000 modelport:0.1.0
#
# docs/deploy.md runs it as replicas behind nginx (compose.yaml) or on Kubernetes.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .


FROM python:3.11-slim AS runtime

LABEL org.opencontainers.image.title="Modelport" \
      org.opencontainers.image.description="Put a trained model in front of people: a page to try it and an API to call it." \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.documentation="docs/deploy.md"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MODELPORT_INSTANCE_PATH=/var/lib/modelport \
    MODELPORT_MODEL_STORE=/opt/modelport/models \
    MPLCONFIGDIR=/tmp/matplotlib

RUN groupadd --system --gid 10001 modelport \
 && useradd --system --uid 10001 --gid modelport --no-create-home \
            --home-dir /var/lib/modelport --shell /usr/sbin/nologin modelport \
 && install -d -o modelport -g modelport -m 0750 /var/lib/modelport \
 && install -d -m 0755 /opt/modelport/models

# The wheel without extras, as tests/test_base_install.py installs a checkout.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m pip install --no-cache-dir /wheels/modelport-*.whl

# Load every built-in model once, so that an image that cannot serve one fails to build. This
# also trains the k-NN (its samples) into the model store, which the replicas then only read
# (as the unprivileged user: hence the chmod).
RUN MODELPORT_INSTANCE_PATH=/tmp/build-instance modelport models --json > /tmp/models.json \
 && python -c "import json, sys; found = json.load(open('/tmp/models.json')); \
sys.exit(found['failed'] or not found['models'])" \
 && chmod -R a+rX,go-w /opt/modelport/models \
 && rm -rf /tmp/build-instance /tmp/models.json /tmp/matplotlib

USER 10001:10001
WORKDIR /var/lib/modelport
EXPOSE 8000

# Ready, not merely alive: every model loaded and warm, predictions being stored.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]

ENTRYPOINT ["modelport"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
