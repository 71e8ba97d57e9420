#!/usr/bin/env node
// Committed entry point for the `train` bin (see launcher/bin/yolo-launch.js for why).
import '../dist/src/cli.js';
