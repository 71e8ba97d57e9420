#!/bin/sh
# Startup of the yolo-launch images: say what this container will compute on, then hand over to
# the launcher with `exec` (so that the container's stop signal reaches the launcher, which
# forwards it to every worker).
#
#   docker run IMAGE --nproc gpu train ...        -> yolo-launch --nproc gpu train ...
#   docker run IMAGE yolo-launch --nproc 2 ...    -> the same; the leading word is optional
#   docker run IMAGE nvidia-smi                   -> runs that command as is, without the report
#
# Environment it reads:
#   YOLO_BACKEND             reported; the backend package acts on it (auto|tensorflow|wasm|cpu)
#   YOLO_LAUNCH_TOKEN_FILE   a file holding the job secret (a Compose / Kubernetes secret);
#                            exported as YOLO_LAUNCH_TOKEN, never printed
#   YOLO_SOCKET_IFNAME       checked to exist in this network namespace
#   YOLO_ENTRYPOINT_QUIET=1  skip the report
#   YOLO_SHM_MIN_MB          the /dev/shm size under which it warns (default 1024)
#   CUDA_CACHE_PATH          the CUDA JIT cache: created when missing (a fresh volume, a per-node
#                            directory on a Kubernetes claim); a warning when it is not writable
set -eu

say() { printf 'yolo-entrypoint: %s\n' "$*" >&2; }
warn() { printf 'yolo-entrypoint: WARNING: %s\n' "$*" >&2; }

load_token() {
  [ -n "${YOLO_LAUNCH_TOKEN_FILE:-}" ] || return 0
  if [ ! -r "$YOLO_LAUNCH_TOKEN_FILE" ]; then
    say "ERROR: YOLO_LAUNCH_TOKEN_FILE=$YOLO_LAUNCH_TOKEN_FILE is missing or not readable by uid $(id -u)." \
      "Create it (e.g. openssl rand -hex 32 > deploy/secrets/yolo_launch_token) and make it readable" \
      "by the container user (chmod 0644, or run with user: matching its owner)."
    exit 2
  fi
  YOLO_LAUNCH_TOKEN=$(tr -d ' \t\r\n' < "$YOLO_LAUNCH_TOKEN_FILE")
  if [ -z "$YOLO_LAUNCH_TOKEN" ]; then
    say "ERROR: YOLO_LAUNCH_TOKEN_FILE=$YOLO_LAUNCH_TOKEN_FILE is empty."
    exit 2
  fi
  export YOLO_LAUNCH_TOKEN
}

report_backend() {
  app=${YOLO_APP_DIR:-/opt/yolo-launch}
  gpu_pkg="$app/node_modules/@tensorflow/tfjs-node-gpu/package.json"
  if [ -f "$gpu_pkg" ]; then
    tfjs_gpu=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$gpu_pkg" | head -n 1)
    say "backend: YOLO_BACKEND=${YOLO_BACKEND:-auto}; @tensorflow/tfjs-node-gpu ${tfjs_gpu:-?} installed"
  else
    tfjs_gpu=
    say "backend: YOLO_BACKEND=${YOLO_BACKEND:-auto}; @tensorflow/tfjs-node-gpu not installed (wasm image)"
  fi
}

# Sets GPU_COUNT. nvidia-smi is mounted into the container by the NVIDIA Container Toolkit when the
# container is given GPUs (the `utility` capability); its absence means no GPU was requested.
report_gpus() {
  GPU_COUNT=0
  if ! command -v nvidia-smi >/dev/null 2>&1; then
    say "GPUs: none (nvidia-smi not found: the container was started without GPUs)"
    return 0
  fi
  if ! gpus=$(nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader 2>&1); then
    say "GPUs: none (nvidia-smi failed: $(printf '%s' "$gpus" | head -n 1))"
    return 0
  fi
  GPU_COUNT=$(printf '%s\n' "$gpus" | grep -c . || true)
  say "GPUs: $GPU_COUNT seen by nvidia-smi (CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-unset})"
  printf '%s\n' "$gpus" | while IFS= read -r line; do say "  GPU $line"; done
}

check_gpu_backend() {
  case "${YOLO_BACKEND:-auto}" in auto | tensorflow) ;; *) return 0 ;; esac
  [ -n "$tfjs_gpu" ] || return 0
  if [ "$GPU_COUNT" -eq 0 ]; then
    warn "this is the GPU image but no GPU is visible: training would run on the CPU." \
      "Start it with --gpus all (docker run) or the deploy.resources.reservations.devices block (compose)."
    return 0
  fi
  # tfjs-node-gpu does not fail without cuDNN: it quietly runs every op on the CPU.
  if ! { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -q 'libcudnn\.so\.8'; then
    warn "libcudnn.so.8 not found by ldconfig: tfjs-node-gpu will silently fall back to the CPU." \
      "Use the nvidia/cuda 11.2 cudnn8 base image this Dockerfile names."
  fi
}

report_shm() {
  min_mb=${YOLO_SHM_MIN_MB:-1024}
  shm_kb=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $2 }')
  if [ -z "$shm_kb" ]; then
    warn "could not read the size of /dev/shm"
    return 0
  fi
  shm_mb=$((shm_kb / 1024))
  if [ "$shm_mb" -lt "$min_mb" ]; then
    warn "/dev/shm is only $shm_mb MB (under $min_mb MB): data-loading workers will fail or crawl." \
      "Docker's default is 64 MB: use ipc: host or shm_size: 16gb in compose, --ipc=host or" \
      "--shm-size=16g with docker run, an emptyDir with medium: Memory on /dev/shm in Kubernetes."
  else
    say "/dev/shm: $shm_mb MB"
  fi
}

# TensorFlow 2.9 JIT-compiles its kernels on GPUs newer than its build; CUDA keeps the result in
# CUDA_CACHE_PATH only if it can write there (and says nothing when it cannot).
prepare_jit_cache() {
  [ -n "${CUDA_CACHE_PATH:-}" ] || return 0
  if ! mkdir -p "$CUDA_CACHE_PATH" 2>/dev/null || [ ! -w "$CUDA_CACHE_PATH" ]; then
    warn "CUDA_CACHE_PATH=$CUDA_CACHE_PATH is not writable by uid $(id -u): GPUs newer than TensorFlow 2.9" \
      "(A100, L4, H100, ...) will JIT-compile its kernels for tens of minutes at every start." \
      "Mount a volume there that this user can write (the cuda-cache volume of the Compose files)."
  fi
}

check_ifname() {
  [ -n "${YOLO_SOCKET_IFNAME:-}" ] || return 0
  command -v ip >/dev/null 2>&1 || return 0
  if addr=$(ip -o -4 addr show dev "$YOLO_SOCKET_IFNAME" 2>/dev/null) && [ -n "$addr" ]; then
    say "network: YOLO_SOCKET_IFNAME=$YOLO_SOCKET_IFNAME ($(printf '%s\n' "$addr" | awk '{ print $4; exit }'))"
  else
    warn "YOLO_SOCKET_IFNAME=$YOLO_SOCKET_IFNAME has no IPv4 address in this container;" \
      "interfaces here: $(ip -o -4 addr show 2>/dev/null | awk '{ printf "%s%s", sep, $2; sep = " " }')." \
      "With host networking use the host's interface name (ip -br addr on the host)."
  fi
}

case "${1:-}" in
  yolo-launch) shift ;;
  "" | -* | train) ;;
  *) exec "$@" ;;
esac

load_token
prepare_jit_cache
if [ "${YOLO_ENTRYPOINT_QUIET:-0}" != 1 ]; then
  report_backend
  report_gpus
  check_gpu_backend
  report_shm
  check_ifname
fi
exec yolo-launch "$@"
