# syntax=docker/dockerfile:1
# Lanai operator image: this checkout built as a wheel and installed with exactly the
# versions in uv.lock, on a slim Python 3.11, running as a non-root numeric user.
#
#   docker build -t lanai:dev .
#
# Base image: the official python:3.11.14-slim-bookworm, pinned by tag (for people) and
# by the digest of its multi-architecture index (for reproducible builds). Bump both
# together; the unit test tests/unit/deploy/test_dockerfile.py refuses an unpinned FROM.
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS base

FROM base AS build
# The same uv as ./dev uses, so the lock resolves identically.
RUN pip install --no-cache-dir uv==0.13.9
ENV UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/lanai
WORKDIR /src
# Locked dependencies first: this layer changes only when uv.lock does.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
# Then Lanai itself, built as a wheel and installed into the same environment
# (--no-editable: the image must not point back at /src).
COPY lanai ./lanai
RUN uv sync --frozen --no-dev --no-editable

FROM base
# Nothing to install from Debian: pygit2's wheel bundles libgit2 (with its TLS and SSH
# libraries), and the base image already has ca-certificates. The operator never runs
# the git command line, so git is left out of the image on purpose.
RUN useradd --system --uid 65532 --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin lanai \
 && mkdir -p /var/cache/lanai \
 && chown 65532:65532 /var/cache/lanai
COPY --from=build /opt/lanai /opt/lanai
# Bytecode was compiled at build time; the root filesystem is read-only in the pod.
ENV PATH=/opt/lanai/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LANAI_CACHE_DIR=/var/cache/lanai
# pygit2 work runs in worker threads; glibc's default of one malloc arena per thread
# held ~26 MiB more at 10,000 revisions (bench/README.md). The operator limits the
# arenas itself too (lanai/handlers/memory.py); this keeps every process in the image so.
ENV MALLOC_ARENA_MAX=2
USER 65532:65532
WORKDIR /var/cache/lanai
# 8080: Prometheus /metrics; 8081: kopf's liveness endpoint (/healthz).
EXPOSE 8080 8081
ENTRYPOINT ["lanai", "run"]
CMD ["--all-namespaces", "--metrics-address=0.0.0.0:8080", "--liveness=http://0.0.0.0:8081/healthz"]
