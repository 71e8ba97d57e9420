#!/usr/bin/env node
// Committed entry point for the `yolo-launch` bin. npm links bins at install time, before
// `npm run build` has produced dist/, and skips a bin whose file is missing; this file always
// exists, so `npx yolo-launch` works in a fresh clone once the build has run.
import '../dist/src/cli.js';
