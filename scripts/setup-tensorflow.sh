#!/usr/bin/env bash
# npm run setup:tensorflow
#
# Makes @tensorflow/tfjs-node (the native CPU TensorFlow backend) usable on a machine WITHOUT
# internet access to storage.googleapis.com, where its own install script cannot download
# libtensorflow. The TensorFlow C API comes instead from the tensorflow-cpu wheel of pip's
# (local) package index:
#
#   1. the wheel, pinned, downloaded once with `python3 -m pip download --no-deps` into the cache
#   2. its libtensorflow_cc.so.2 + libtensorflow_framework.so.2 and the C API headers extracted
#      into the cache (outside the repository; ~850 MB unpacked)
#   3. tfjs-node installed with `npm install --no-save --ignore-scripts` (package.json and
#      package-lock.json untouched; it stays an optional peer dependency, so `npm ci` works
#      everywhere and removes it again)
#   4. deps/lib/libtensorflow.so.2 (+ framework) linked to the extracted libraries, deps/include
#      to the headers, as tfjs-node's binding.gyp expects
#   5. the addon built with node-gyp against Node's own headers (nothing downloaded) into
#      lib/napi-v8/tfjs_binding.node, and loaded once to prove it works
#
# Idempotent: a second run checks that the binding loads and returns in a few seconds.
# Where it cannot work (no pip index, no C++ compiler, no Node headers, no npm registry) it says
# why and exits 0: the tensorflow backend tests are then skipped and say so.
# On a machine with internet, the ordinary install (tfjs-node's own script, approved) is the
# documented way for users; see packages/backend/README.md.
set -euo pipefail

TF_VERSION=2.21.0
TFJS_NODE_VERSION=4.22.0
NAPI_VERSION=8

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${YOLO_LAUNCH_TF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/yolo-launch/tensorflow}"
WHEEL_DIR="$CACHE/wheels"
LIBTF="$CACHE/tensorflow-cpu-$TF_VERSION"
PKG="$ROOT/node_modules/@tensorflow/tfjs-node"
ADDON="$PKG/lib/napi-v$NAPI_VERSION/tfjs_binding.node"
STAMP="$PKG/.yolo-launch-setup"
STAMP_TEXT="tensorflow-cpu $TF_VERSION, tfjs-node $TFJS_NODE_VERSION, node $(node -p process.versions.modules)"

say() { echo "setup:tensorflow: $*"; }
skip() {
  say "SKIPPED: $*"
  say "the tensorflow backend stays unavailable here (wasm and cpu are unaffected; its tests will say they were skipped)"
  exit 0
}

# Loads tfjs-node from the repository root (where the workspace packages resolve it) and runs
# one op; prints the TensorFlow version. Exit status 0 when the backend works.
check_binding() {
  (cd "$ROOT" && TF_CPP_MIN_LOG_LEVEL=2 node -e "
    const tf = require('@tensorflow/tfjs-node');
    const sum = tf.add(tf.scalar(1), tf.scalar(2)).dataSync()[0];
    if (tf.getBackend() !== 'tensorflow' || sum !== 3) process.exit(1);
    console.log(tf.version['tfjs-node'] + ' on TensorFlow ' + tf.backend().binding.TF_Version);
  " 2>/dev/null)
}

fast_path() {
  [[ -f "$ADDON" && -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_TEXT" ]] || return 1
  local version
  version="$(check_binding)" || return 1
  say "already set up: @tensorflow/tfjs-node $version (cache $CACHE)"
  exit 0
}

require_tools() {
  command -v g++ >/dev/null || skip "no C++ compiler (g++) to build tfjs-node's addon (Debian: apt-get install g++ make)"
  command -v make >/dev/null || skip "no make to build tfjs-node's addon (Debian: apt-get install make)"
  NODE_DIR="$(dirname "$(dirname "$(command -v node)")")"
  [[ -f "$NODE_DIR/include/node/node_api.h" && -f "$NODE_DIR/include/node/common.gypi" ]] ||
    skip "Node's headers not found under $NODE_DIR/include/node (Debian: apt-get install libnode-dev), and node-gyp would have to download them"
  NODE_GYP="$(dirname "$(realpath "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
  [[ -f "$NODE_GYP" ]] || skip "npm's bundled node-gyp not found at $NODE_GYP"
}

fetch_wheel() {
  WHEEL="$(ls "$WHEEL_DIR"/tensorflow_cpu-"$TF_VERSION"-*.whl 2>/dev/null | head -n 1 || true)"
  [[ -n "$WHEEL" ]] && return 0
  python3 -m pip --version >/dev/null 2>&1 || skip "python3 with pip not found (needed to fetch the tensorflow-cpu wheel)"
  say "downloading the tensorflow-cpu==$TF_VERSION wheel (~274 MB) with pip into $WHEEL_DIR"
  local tmp="$WHEEL_DIR.partial"
  rm -rf "$tmp" && mkdir -p "$tmp"
  if ! python3 -m pip download --no-deps --retries 1 --timeout 30 -d "$tmp" "tensorflow-cpu==$TF_VERSION" >"$CACHE/pip.log" 2>&1; then
    tail -n 3 "$CACHE/pip.log" | sed 's/^/  pip: /'
    rm -rf "$tmp"
    skip "pip could not download tensorflow-cpu==$TF_VERSION (no package index holding it; full log in $CACHE/pip.log)"
  fi
  mkdir -p "$WHEEL_DIR"
  mv "$tmp"/tensorflow_cpu-"$TF_VERSION"-*.whl "$WHEEL_DIR"/
  rm -rf "$tmp"
  WHEEL="$(ls "$WHEEL_DIR"/tensorflow_cpu-"$TF_VERSION"-*.whl | head -n 1)"
}

# Only the two shared libraries and the C API headers the binding includes; into a temporary
# folder first, renamed when complete, so an interrupted run never leaves a half library.
extract_libtensorflow() {
  [[ -f "$LIBTF/lib/libtensorflow_cc.so.2" && -d "$LIBTF/include/tensorflow/c" ]] && return 0
  say "extracting libtensorflow and its C API headers from $(basename "$WHEEL")"
  local tmp="$LIBTF.partial"
  rm -rf "$tmp"
  python3 - "$WHEEL" "$tmp" <<'PY'
import os, shutil, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
libs = {'tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2'}
headers = ('tensorflow/include/tensorflow/c/', 'tensorflow/include/tensorflow/core/platform/ctstring',
           'tensorflow/include/tsl/platform/ctstring', 'tensorflow/include/xla/tsl/c/')
with zipfile.ZipFile(wheel) as zf:
    for name in zf.namelist():
        if name.endswith('/'):
            continue
        if name in libs:
            target = os.path.join(out, 'lib', os.path.basename(name))
        elif name.startswith(headers):
            target = os.path.join(out, 'include', name[len('tensorflow/include/'):])
        else:
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with zf.open(name) as src, open(target, 'wb') as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
PY
  mv "$tmp" "$LIBTF"
}

# --no-save: package.json and package-lock.json stay as they are (checked); the packages are
# added to node_modules only, next to the workspace's own (nothing there is replaced).
install_tfjs_node() {
  local installed
  installed="$(node -p "try { require('$PKG/package.json').version } catch { '' }")"
  [[ "$installed" == "$TFJS_NODE_VERSION" ]] && return 0
  say "installing @tensorflow/tfjs-node@$TFJS_NODE_VERSION (--no-save --ignore-scripts)"
  local lock_before
  lock_before="$(cksum < "$ROOT/package-lock.json")"
  if ! (cd "$ROOT" && npm install --no-save --ignore-scripts --no-audit --no-fund --loglevel=error \
        "@tensorflow/tfjs-node@$TFJS_NODE_VERSION" >"$CACHE/npm-install.log" 2>&1); then
    tail -n 3 "$CACHE/npm-install.log" | sed 's/^/  npm: /'
    skip "npm could not install @tensorflow/tfjs-node@$TFJS_NODE_VERSION (no registry access?)"
  fi
  if [[ "$(cksum < "$ROOT/package-lock.json")" != "$lock_before" ]]; then
    say "ERROR: npm changed package-lock.json; restore it with: git checkout package-lock.json"
    exit 1
  fi
}

link_deps() {
  rm -rf "$PKG/deps" && mkdir -p "$PKG/deps/lib"
  ln -s "$LIBTF/include" "$PKG/deps/include"
  # tfjs-node loads libtensorflow.so.2; the wheel's libtensorflow_cc.so.2 exports the same C API
  # (and is linked under its own soname, hence the third name). The unversioned names are for -l.
  local name
  for name in libtensorflow.so.2 libtensorflow.so libtensorflow_cc.so.2; do
    ln -s "$LIBTF/lib/libtensorflow_cc.so.2" "$PKG/deps/lib/$name"
  done
  for name in libtensorflow_framework.so.2 libtensorflow_framework.so; do
    ln -s "$LIBTF/lib/libtensorflow_framework.so.2" "$PKG/deps/lib/$name"
  done
}

# The built addon is cached too (per TF, tfjs-node and Node ABI version): after `npm ci` wipes
# node_modules, the next run copies it back instead of compiling again.
build_addon() {
  rm -f "$STAMP"
  local cached="$CACHE/addon/tfjs-node-$TFJS_NODE_VERSION-tf-$TF_VERSION-abi-$(node -p process.versions.modules)/tfjs_binding.node"
  if [[ -f "$cached" ]]; then
    mkdir -p "$(dirname "$ADDON")" && cp "$cached" "$ADDON.partial" && mv "$ADDON.partial" "$ADDON"
    check_binding >/dev/null && return 0
    say "the cached addon does not load here; rebuilding"
  fi
  say "building tfjs_binding.node with node-gyp against $NODE_DIR/include/node (about a minute)"
  if ! (cd "$PKG" && node "$NODE_GYP" rebuild --nodedir="$NODE_DIR" --jobs=2 \
        --module_name=tfjs_binding --module_path="$(dirname "$ADDON")" \
        --napi_build_version="$NAPI_VERSION" >"$CACHE/node-gyp.log" 2>&1); then
    tail -n 5 "$CACHE/node-gyp.log" | sed 's/^/  node-gyp: /'
    skip "building the addon failed (full log in $CACHE/node-gyp.log)"
  fi
  mkdir -p "$(dirname "$cached")" && cp "$ADDON" "$cached.partial" && mv "$cached.partial" "$cached"
}

main() {
  [[ -f "$ROOT/node_modules/@tensorflow/tfjs-core/package.json" ]] || skip "run npm ci first (node_modules is missing)"
  fast_path || true
  require_tools
  mkdir -p "$CACHE"
  fetch_wheel
  extract_libtensorflow
  install_tfjs_node
  link_deps
  build_addon
  local version
  version="$(check_binding)" || skip "the built binding does not load; try: node -e \"require('@tensorflow/tfjs-node')\" in $ROOT"
  echo "$STAMP_TEXT" > "$STAMP"
  say "ready: @tensorflow/tfjs-node $version (libraries in $LIBTF)"
}

main "$@"
