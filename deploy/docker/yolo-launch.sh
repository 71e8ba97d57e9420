#!/bin/sh
# `yolo-launch` inside the images: the launcher's compiled CLI, run by the image's Node.js.
# exec, so that the launcher itself receives the container's stop signal and forwards it to the
# workers (it does not depend on cli.js having a shebang or an executable bit).
exec node "${YOLO_APP_DIR:-/opt/yolo-launch}/launcher/bin/yolo-launch.js" "$@"
