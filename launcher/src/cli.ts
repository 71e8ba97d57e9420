#!/usr/bin/env node
// The `yolo-launch` bin. Everything lives in command-line.ts (and launch.ts for the API).
import { main } from './command-line.js';

const code = await main();
// A node launcher still holds its stdin open; nothing else is pending (stdio pipes are
// synchronous on Linux), so leave now.
process.exit(code);
