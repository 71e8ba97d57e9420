#!/usr/bin/env bash
# From a fresh GPU server to a 2-GPU, 1-epoch coco128 run, checking each step and stopping at the
# first that fails with what to do about it:
#
#   1. the NVIDIA driver (nvidia-smi, >= 460.32.03 for CUDA 11.2, two GPUs)
#   2. Docker with Compose v2
#   3. the NVIDIA Container Toolkit (a CUDA 11.2 container sees the GPUs)
#   4. the image (docker compose build: tfjs-node-gpu with its install script approved)
#   5. `yolo-launch doctor --device gpu` in the container (an op really ran on every GPU)
#   6. coco128 in the datasets folder (downloaded when missing)
#   7. `yolo-launch --nproc 2 train` for 1 epoch of coco128 on two GPUs, then its results.csv
#
# Usage, from anywhere in the repository:
#   deploy/gpu-server-check.sh [--gpus 0,1] [--skip-build] [--model yolov5s.yaml]
# Settings taken from the environment (or deploy/.env, as Compose reads it): YOLO_DATASETS,
# YOLO_RUNS (default: datasets/ and runs/ at the repository root), YOLO_UID / YOLO_GID (default:
# yours, so the files in runs/ are yours). Exit 0 when every step passed.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COMPOSE_FILE="$REPO/deploy/docker-compose.yml"
CUDA_PROBE_IMAGE=nvidia/cuda:11.2.2-base-ubuntu20.04
MIN_DRIVER=460.32.03
COCO128_URL=https://ultralytics.com/assets/coco128.zip
RUN_NAME=gpu-server-check

GPUS=0,1
BUILD=1
MODEL=yolov5s.yaml
while [ $# -gt 0 ]; do
  case "$1" in
    --gpus) GPUS=${2:?--gpus needs a list such as 0,1}; shift 2 ;;
    --skip-build) BUILD=0; shift ;;
    --model) MODEL=${2:?--model needs a model yaml}; shift 2 ;;
    -h | --help) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-server-check: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

export YOLO_DATASETS=${YOLO_DATASETS:-$REPO/datasets}
export YOLO_RUNS=${YOLO_RUNS:-$REPO/runs}
export YOLO_UID=${YOLO_UID:-$(id -u)}
export YOLO_GID=${YOLO_GID:-$(id -g)}

step() { printf '\n== %s\n' "$*"; }
ok() { printf 'ok: %s\n' "$*"; }
fail() {
  printf 'FAILED: %s\n' "$1" >&2
  shift
  for line in "$@"; do printf '  %s\n' "$line" >&2; done
  exit 1
}

# "535.104.05" >= "460.32.03", part by part.
version_at_least() {
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -t. -k1,1n -k2,2n -k3,3n | head -n 1)" = "$2" ]
}

compose() { docker compose -f "$COMPOSE_FILE" "$@"; }

check_driver() {
  step "1/7 NVIDIA driver"
  command -v nvidia-smi >/dev/null 2>&1 ||
    fail "nvidia-smi not found: no NVIDIA driver" \
      "Install one that supports CUDA 11.2 (>= $MIN_DRIVER; H100/H200 need >= 525, L4/L40 >= 525), e.g. on Ubuntu:" \
      "  sudo ubuntu-drivers install   (or: sudo apt-get install -y nvidia-driver-535)  then reboot"
  local gpus
  gpus=$(nvidia-smi --query-gpu=index,name,driver_version --format=csv,noheader) ||
    fail "nvidia-smi cannot talk to the driver" "Reboot after installing it, or check: sudo dmesg | grep -i nvidia"
  printf '%s\n' "$gpus" | sed 's/^/  GPU /'
  local driver count
  driver=$(printf '%s\n' "$gpus" | head -n 1 | awk -F', ' '{ print $3 }')
  version_at_least "$driver" "$MIN_DRIVER" || fail "driver $driver is older than $MIN_DRIVER (CUDA 11.2)" "Install a newer NVIDIA driver."
  count=$(printf '%s\n' "$gpus" | grep -c .)
  local wanted
  wanted=$(printf '%s\n' "$GPUS" | tr ',' '\n' | grep -c .)
  [ "$count" -ge "$wanted" ] || fail "$count GPU(s) here; this check trains on $wanted (--gpus $GPUS)" "Use --gpus with indices that exist."
  ok "driver $driver, $count GPU(s)"
}

check_docker() {
  step "2/7 Docker and Compose v2"
  command -v docker >/dev/null 2>&1 || fail "docker not found" "Install Docker Engine: https://docs.docker.com/engine/install/"
  docker info >/dev/null 2>&1 || fail "the Docker daemon does not answer" "sudo systemctl start docker; add yourself to the docker group (sudo usermod -aG docker \$USER, then log in again)"
  docker compose version >/dev/null 2>&1 || fail "docker compose (v2) not found" "Install the docker-compose-plugin package."
  ok "$(docker --version); $(docker compose version)"
}

check_toolkit() {
  step "3/7 NVIDIA Container Toolkit"
  local listed
  listed=$(docker run --rm --gpus all "$CUDA_PROBE_IMAGE" nvidia-smi -L 2>&1) ||
    fail "a container cannot use the GPUs: $(printf '%s' "$listed" | tail -n 1)" \
      "Install the NVIDIA Container Toolkit (https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/), then:" \
      "  sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker"
  printf '%s\n' "$listed" | sed 's/^/  /'
  ok "containers see the GPUs"
}

build_image() {
  step "4/7 the image (deploy/Dockerfile, target gpu)"
  mkdir -p "$YOLO_DATASETS" "$YOLO_RUNS"
  if [ "$BUILD" = 1 ]; then
    compose build || fail "the image did not build" "Read the first error above; the gpu-build stage fails when the tfjs-node-gpu binding cannot load."
  fi
  ok "image ready"
}

run_doctor() {
  step "5/7 yolo-launch doctor --device gpu, in the container"
  compose run --rm train yolo-launch doctor --device gpu ||
    fail "the doctor found problems (its 'cannot run:' lines above)" "Fix them, then run this script again with --skip-build."
  ok "an op ran on every GPU"
}

COCO128_YAML='# COCO128 (YOLOv5 v7.0 data/coco128.yaml): the first 128 images of COCO train2017
path: ../datasets/coco128
train: images/train2017
val: images/train2017
test:
names:
  0: person
  1: bicycle
  2: car
  3: motorcycle
  4: airplane
  5: bus
  6: train
  7: truck
  8: boat
  9: traffic light
  10: fire hydrant
  11: stop sign
  12: parking meter
  13: bench
  14: bird
  15: cat
  16: dog
  17: horse
  18: sheep
  19: cow
  20: elephant
  21: bear
  22: zebra
  23: giraffe
  24: backpack
  25: umbrella
  26: handbag
  27: tie
  28: suitcase
  29: frisbee
  30: skis
  31: snowboard
  32: sports ball
  33: kite
  34: baseball bat
  35: baseball glove
  36: skateboard
  37: surfboard
  38: tennis racket
  39: bottle
  40: wine glass
  41: cup
  42: fork
  43: knife
  44: spoon
  45: bowl
  46: banana
  47: apple
  48: sandwich
  49: orange
  50: broccoli
  51: carrot
  52: hot dog
  53: pizza
  54: donut
  55: cake
  56: chair
  57: couch
  58: potted plant
  59: bed
  60: dining table
  61: toilet
  62: tv
  63: laptop
  64: mouse
  65: remote
  66: keyboard
  67: cell phone
  68: microwave
  69: oven
  70: toaster
  71: sink
  72: refrigerator
  73: book
  74: clock
  75: vase
  76: scissors
  77: teddy bear
  78: hair drier
  79: toothbrush
download: https://ultralytics.com/assets/coco128.zip'

fetch_coco128() {
  step "6/7 coco128 in $YOLO_DATASETS"
  [ -f "$YOLO_DATASETS/coco128.yaml" ] || printf '%s\n' "$COCO128_YAML" >"$YOLO_DATASETS/coco128.yaml"
  if [ ! -d "$YOLO_DATASETS/coco128/images/train2017" ]; then
    curl -fsSL -o "$YOLO_DATASETS/coco128.zip" "$COCO128_URL" || fail "could not download $COCO128_URL" "Put coco128 (images/ and labels/) in $YOLO_DATASETS/coco128 by hand."
    if command -v unzip >/dev/null 2>&1; then unzip -q -o "$YOLO_DATASETS/coco128.zip" -d "$YOLO_DATASETS"
    else python3 -m zipfile -e "$YOLO_DATASETS/coco128.zip" "$YOLO_DATASETS"; fi
    rm -f "$YOLO_DATASETS/coco128.zip"
  fi
  ok "$(find "$YOLO_DATASETS/coco128/images/train2017" -type f | wc -l | tr -d ' ') images"
}

train_two_gpus() {
  step "7/7 yolo-launch --nproc 2 train: 1 epoch of coco128 on GPUs $GPUS"
  local log="$YOLO_RUNS/$RUN_NAME.log"
  compose run --rm -e CUDA_VISIBLE_DEVICES="$GPUS" train \
    yolo-launch --nproc 2 train --data ../datasets/coco128.yaml --cfg "$MODEL" --img 640 --batch-size 32 \
    --epochs 1 --name "$RUN_NAME" --exist-ok 2>&1 | tee "$log" ||
    fail "the training run failed (log: $log)" "Its last lines above name the rank and the reason."
  local results="$YOLO_RUNS/train/$RUN_NAME/results.csv"
  [ -f "$results" ] || fail "no $results after the run" "See $log."
  [ "$(grep -c 'CUDA GPU' "$log")" -ge 2 ] || fail "the log does not show both ranks on a CUDA GPU" "See the 'backend:' lines in $log."
  ok "1 epoch on 2 GPUs; $(tail -n 1 "$results" | tr -s ' ')"
}

check_driver
check_docker
check_toolkit
build_image
run_doctor
fetch_coco128
train_two_gpus
printf '\nPASS: this server trains yolo-launch on GPUs %s (results in %s/train/%s)\n' "$GPUS" "$YOLO_RUNS" "$RUN_NAME"
