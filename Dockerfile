# rlvr on NVIDIA GPUs: CUDA 12.4 devel (nvcc, for DeepSpeed ops and the optional flash-attn build) + Python 3.11.
#
# Build (add --build-arg FLASH_ATTN=1 to compile flash-attn, ~20-40 min):
#   docker build -t rlvr .
# Run a recipe on one 8-GPU node (mount a runs/ folder and, if you use hub models, your HF cache):
#   docker run --gpus all --ipc=host --shm-size=16g \
#     -v $PWD/runs:/workspace/rlvr/runs -v $HOME/.cache/huggingface:/root/.cache/huggingface \
#     rlvr torchrun --nproc_per_node 8 -m rlvr.train recipes/dapo.yaml
# The code verifiers sandbox model-written code with bubblewrap (installed below), which needs user namespaces
# inside the container: add `--security-opt seccomp=unconfined` (or a profile allowing clone/unshare) if they
# report that bwrap cannot create namespaces; math-only recipes need nothing.
# Multi-node: the same image on every node, with torchrun's --nnodes/--node_rank/--master_addr/--master_port
# (and --network=host so NCCL can reach the other nodes).
FROM nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04

ARG FLASH_ATTN=0
ARG PYTHON=python3.11
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    TOKENIZERS_PARALLELISM=false

RUN apt-get update && apt-get install -y --no-install-recommends \
        software-properties-common git curl ca-certificates build-essential ninja-build bubblewrap \
    && add-apt-repository -y ppa:deadsnakes/ppa && apt-get update \
    && apt-get install -y --no-install-recommends ${PYTHON} ${PYTHON}-dev ${PYTHON}-venv \
    && rm -rf /var/lib/apt/lists/*

# A venv keeps pip away from the system Python; putting it first on PATH makes `python`/`torchrun` resolve to it.
RUN ${PYTHON} -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install --upgrade pip setuptools wheel

WORKDIR /workspace/rlvr
# Dependencies first (cached layer): copy only what `pip install -e` needs to resolve them.
COPY pyproject.toml README.md ./
COPY rlvr ./rlvr
# vllm pins its matching CUDA torch build; deepspeed is a core dependency of rlvr (ZeRO learner).
RUN pip install -e ".[vllm,dev]" deepspeed

# Optional: flash-attn 2 (model.attn_implementation=flash_attention_2); needs nvcc, hence the devel image.
RUN if [ "$FLASH_ATTN" = "1" ]; then MAX_JOBS=8 pip install flash-attn --no-build-isolation; fi

# The rest of the repository (recipes, scripts, tests) last, so editing them does not reinstall dependencies.
COPY . .

CMD ["rlvr", "--help"]
