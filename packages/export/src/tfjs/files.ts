/**
 * A TF.js graph model as files: model.json (with weightsManifest) and the weights
 * concatenated in manifest order, cut into 4 MiB shards named as tensorflowjs_converter
 * names them (group1-shard1of2.bin, ...). And the reverse, for Node: an IOHandler that
 * loads such a folder from disk for tf.loadGraphModel (no tfjs-node needed).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { tf } from '@yolo-launch/backend';
import type { TfjsGraphModel } from './emit.js';

export const SHARD_BYTES = 4 * 1024 * 1024;

/** File name -> content of the web model folder. */
export function graphModelFiles(model: TfjsGraphModel): Map<string, Uint8Array | string> {
  const all = weightBytes(model);
  const total = all.byteLength;
  const count = Math.max(1, Math.ceil(total / SHARD_BYTES));
  const files = new Map<string, Uint8Array | string>();
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `group1-shard${i + 1}of${count}.bin`;
    paths.push(name);
    files.set(name, all.subarray(i * SHARD_BYTES, Math.min(total, (i + 1) * SHARD_BYTES)));
  }
  const json = { ...model.modelJson, weightsManifest: [{ paths, weights: model.weights }] };
  files.set('model.json', JSON.stringify(json));
  return files;
}

/** Every weight's bytes in manifest order (what the shards hold, end to end). */
export function weightBytes(model: TfjsGraphModel): Uint8Array {
  const all = new Uint8Array(model.weightData.reduce((n, d) => n + d.byteLength, 0));
  let offset = 0;
  for (const d of model.weightData) {
    all.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), offset);
    offset += d.byteLength;
  }
  return all;
}

/** tf.loadGraphModel(fileSystemHandler('runs/train/exp/weights/best_web_model')) in Node. */
export function fileSystemHandler(dir: string): tf.io.IOHandler {
  return {
    load: async () => {
      const modelJson = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
      const weightSpecs = (modelJson.weightsManifest ?? []).flatMap((group) => group.weights);
      const shards = (modelJson.weightsManifest ?? []).flatMap((group) =>
        group.paths.map((p) => fs.readFileSync(path.join(dir, p))),
      );
      const weightData = Buffer.concat(shards);
      return {
        modelTopology: modelJson.modelTopology,
        format: modelJson.format,
        generatedBy: modelJson.generatedBy,
        convertedBy: modelJson.convertedBy,
        signature: modelJson.signature,
        userDefinedMetadata: modelJson.userDefinedMetadata,
        weightSpecs,
        weightData: weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.byteLength),
      };
    },
  };
}
