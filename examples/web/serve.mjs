#!/usr/bin/env node
// Serves the example page, tfjs from node_modules and an exported web model folder:
//   node examples/web/serve.mjs runs/train/exp/weights/best_web_model [port]
// then open the printed URL and pick an image. Port 0 (the default) lets the OS choose.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const TYPES = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.bin': 'application/octet-stream',
};

/** Starts the server on 127.0.0.1; resolves to { url, close }. */
export function startServer({ modelDir, port = 0 }) {
  if (!existsSync(path.join(modelDir, 'model.json')))
    throw new Error(`${modelDir} has no model.json: export one with yolo-launch export --include tfjs`);
  const tfjs = require.resolve('@tensorflow/tfjs/dist/tf.min.js');
  const route = (url) => {
    const p = decodeURIComponent(new URL(url, 'http://x').pathname);
    if (p === '/' || p === '/index.html') return path.join(here, 'index.html');
    if (p === '/app.js') return path.join(here, 'app.js');
    if (p === '/vendor/tf.min.js') return tfjs;
    if (p.startsWith('/model/')) {
      const file = path.resolve(modelDir, p.slice('/model/'.length));
      return file.startsWith(path.resolve(modelDir) + path.sep) ? file : null;
    }
    return null;
  };
  const server = createServer((req, res) => {
    const file = route(req.url ?? '/');
    if (!file || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port: actual } = server.address();
      resolve({ url: `http://127.0.0.1:${actual}/`, close: () => new Promise((done) => server.close(done)) });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [modelDir, port] = process.argv.slice(2);
  if (!modelDir) {
    console.error('usage: node examples/web/serve.mjs <path/to/best_web_model> [port]');
    process.exit(2);
  }
  const { url } = await startServer({ modelDir, port: Number(port ?? 0) });
  console.log(`open ${url} and pick an image (Ctrl-C to stop)`);
}
