#!/usr/bin/env bash
# Multi-process training: tools/dist_train.sh CONFIG NPROC [train.py args]
# Env: NNODES (1), NODE_RANK (0), PORT (29500), MASTER_ADDR (127.0.0.1), PYTHON (python).
# DIST_TIMEOUT (seconds; default env_cfg.dist_cfg.timeout, else 600): how long a rank
#   waits in a collective for a stuck or dead peer before the job fails with a message.
# Without CUDA the processes train on CPU over gloo (cankd/utils/launcher.py).

CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}
export DIST_TIMEOUT  # read by cankd.utils.launcher.apply_dist_timeout

PYTHONPATH="$(dirname $0)/..":$PYTHONPATH \
$PYTHON -m torch.distributed.run \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS \
    --master_port=$PORT \
    $(dirname "$0")/train.py \
    $CONFIG \
    --launcher pytorch "${@:3}"
