#!/usr/bin/env bash
# Distributed training with torchrun, as OpenMMLab's dist_train.sh:
#
#   [GPUS=N] tools/dist_train.sh CONFIG [GPUS] [train.py options...]
#
# GPUS (environment or second argument) is the number of processes per node:
# one per GPU, or, on a machine without CUDA, the number of CPU processes
# (gloo backend). Default: the number of GPUs nvidia-smi lists, else 1.
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT (the master port).
# PYTHON picks the interpreter (default: python, else python3).
set -e

CONFIG=$1
shift || { echo "usage: $0 CONFIG [GPUS] [train.py options...]" >&2; exit 2; }
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then
    GPUS=$1
    shift
fi
if [[ -z "${GPUS}" ]]; then
    GPUS=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
    [[ "${GPUS}" -gt 0 ]] || GPUS=1
fi
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-$(command -v python || command -v python3)}
TOOLS_DIR=$(cd "$(dirname "$0")" && pwd)

PYTHONPATH="${TOOLS_DIR}/..":$PYTHONPATH \
"${PYTHON}" -m torch.distributed.run \
    --nnodes="${NNODES}" \
    --node_rank="${NODE_RANK}" \
    --master_addr="${MASTER_ADDR}" \
    --nproc_per_node="${GPUS}" \
    --master_port="${PORT}" \
    "${TOOLS_DIR}/train.py" \
    "${CONFIG}" \
    --launcher pytorch "$@"
