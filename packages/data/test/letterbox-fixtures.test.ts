/** letterbox() against every file of the letterbox/ fixtures: geometry exact, pixels approximately. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadFixtures, close } from './helpers.js';
import { letterbox, roundHalfEven, type RgbImage } from '../src/index.js';

function fixtureImage(h: number, w: number, phase: number): RgbImage {
  const data = new Uint8Array(h * w * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++) {
        const v = roundHalfEven(127.5 + 120 * Math.sin(0.031 * x * (1 + 0.2 * c) + 0.047 * y + 0.5 * c + phase));
        data[(y * w + x) * 3 + c] = Math.min(255, Math.max(0, v));
      }
  return { data, width: w, height: h };
}

const sum = (a: Uint8Array, from = 0, step = 1): number => {
  let s = 0;
  for (let i = from; i < a.length; i += step) s += a[i]!;
  return s;
};

for (const fx of loadFixtures('letterbox')) {
  test(`letterbox fixture ${fx.file}`, async () => {
    const inp = fx.inputs as {
      image_hw: [number, number];
      phase: number;
      new_shape: number | [number, number];
      auto: boolean;
      scaleup: boolean;
      scaleFill: boolean;
      stride: number;
      color: number[];
    };
    const exp = fx.expected as {
      output_shape: [number, number, number];
      ratio: [number, number];
      pad_dw_dh: [number, number];
      border_top_bottom_left_right: [number, number, number, number];
      resized_wh: [number, number];
      pixel_sum: number;
      channel_sums: number[];
      resized_region_sum?: number;
      input_pixel_sum?: number;
    };
    const tol = fx.tolerance as {
      ratio_pad_abs?: number;
      pixel_sum?: { rel: number };
      resized_region_mean_abs?: number;
    };
    const img = fixtureImage(inp.image_hw[0], inp.image_hw[1], inp.phase);
    if (exp.input_pixel_sum !== undefined)
      assert.equal(sum(img.data), exp.input_pixel_sum, 'the synthetic input image is recreated exactly');
    const r = await letterbox(img, inp.new_shape, {
      auto: inp.auto,
      scaleup: inp.scaleup,
      scaleFill: inp.scaleFill,
      stride: inp.stride,
      color: inp.color[0]!,
    });
    assert.deepEqual([r.image.height, r.image.width, 3], exp.output_shape);
    const abs = tol.ratio_pad_abs ?? 1e-9;
    r.ratio.forEach((v, i) => assert.ok(close(v, exp.ratio[i]!, abs), `ratio ${r.ratio} vs ${exp.ratio}`));
    r.pad.forEach((v, i) => assert.ok(close(v, exp.pad_dw_dh[i]!, abs), `pad ${r.pad} vs ${exp.pad_dw_dh}`));
    assert.deepEqual([r.top, r.bottom, r.left, r.right], exp.border_top_bottom_left_right);
    assert.deepEqual(r.newUnpad, exp.resized_wh);
    const rel = tol.pixel_sum?.rel ?? 0.01;
    const total = sum(r.image.data);
    assert.ok(close(total, exp.pixel_sum, 0, rel), `pixel_sum ${total} vs ${exp.pixel_sum}`);
    exp.channel_sums.forEach((v, c) => assert.ok(close(sum(r.image.data, c, 3), v, 0, rel), `channel ${c}`));
    // border pixels are exactly the fill value
    const { width: W, height: H, data } = r.image;
    let region = 0;
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const inside = y >= r.top && y < H - r.bottom && x >= r.left && x < W - r.right;
        for (let c = 0; c < 3; c++) {
          const v = data[(y * W + x) * 3 + c]!;
          if (inside) region += v;
          else assert.equal(v, 114, `border pixel ${x},${y}`);
        }
      }
    if (exp.resized_region_sum !== undefined && tol.resized_region_mean_abs !== undefined) {
      const n = exp.resized_wh[0] * exp.resized_wh[1] * 3;
      assert.ok(
        Math.abs(region / n - exp.resized_region_sum / n) <= tol.resized_region_mean_abs,
        `resized region mean ${region / n} vs ${exp.resized_region_sum / n}`,
      );
    }
  });
}
