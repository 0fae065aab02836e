#!/usr/bin/env bash
# Testing on a Slurm cluster with srun, as OpenMMLab's slurm_test.sh:
#
#   [GPUS=8] [GPUS_PER_NODE=8] tools/slurm_test.sh PARTITION JOB_NAME \
#       CONFIG CHECKPOINT [test.py options...]
#
# GPUS: total number of tasks (processes); GPUS_PER_NODE: tasks per node;
# CPUS_PER_TASK; SRUN_ARGS: extra srun options. Each task asks for
# GRES (default gpu:GPUS_PER_NODE); set GRES= (empty) on CPU-only partitions,
# where the tasks then run with the gloo backend.
# PYTHON picks the interpreter (default: python, else python3).

set -x

PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
GRES=${GRES-gpu:${GPUS_PER_NODE}}
PYTHON=${PYTHON:-$(command -v python || command -v python3)}
TOOLS_DIR=$(cd "$(dirname "$0")" && pwd)
PY_ARGS=("${@:5}")

PYTHONPATH="${TOOLS_DIR}/..":$PYTHONPATH \
srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    ${GRES:+--gres=${GRES}} \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${GPUS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "${PYTHON}" -u "${TOOLS_DIR}/test.py" "${CONFIG}" "${CHECKPOINT}" \
    --launcher="slurm" "${PY_ARGS[@]}"
