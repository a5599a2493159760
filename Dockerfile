# syntax=docker/dockerfile:1
# Lanai operator image: the wheel built from this checkout, installed with the exact
# versions of uv.lock, on a slim Python, running as a non-root user.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
COPY lanai ./lanai
# The locked dependencies first (a layer that changes rarely), then the project itself.
RUN uv export --frozen --no-dev --no-emit-project -o /tmp/requirements.txt \
 && uv venv /opt/lanai \
 && uv pip install --python /opt/lanai/bin/python --no-deps -r /tmp/requirements.txt \
 && uv build --wheel -o /tmp/dist \
 && uv pip install --python /opt/lanai/bin/python --no-deps /tmp/dist/*.whl

FROM ${PYTHON_IMAGE}
# git is not needed at run time (pygit2 bundles libgit2); ca-certificates is.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 65532 --user-group --no-create-home --home-dir /nonexistent lanai \
 && mkdir -p /var/cache/lanai && chown 65532:65532 /var/cache/lanai
COPY --from=build /opt/lanai /opt/lanai
ENV PATH=/opt/lanai/bin:$PATH PYTHONUNBUFFERED=1 LANAI_CACHE_DIR=/var/cache/lanai
# pygit2 work runs in worker threads; glibc's default of one malloc arena per thread
# held ~26 MiB more at 10,000 revisions (bench/README.md).
ENV MALLOC_ARENA_MAX=2
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["lanai"]
CMD ["run", "--all-namespaces", "--metrics-address=0.0.0.0:8080", "--liveness=http://0.0.0.0:8081/healthz"]
