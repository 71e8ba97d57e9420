/**
 * The parameter tensors of YOLOv5 v7.0's yolov5n / yolov5s (nc 80) in registration order, from
 * models/yolov5{n,s}.yaml: Conv = conv weight (no bias) + BN weight + BN bias; C3, SPPF and
 * Detect as in models/common.py / yolo.py. yolov5n: 1,867,405 parameters (7.5 MB as float32),
 * yolov5s: 7,225,885 (28.9 MB). Used to give the benchmark realistic bucket contents.
 */
export interface ParamShape {
  name: string;
  shape: number[];
}

export function yolov5Shapes(variant: 'n' | 's', nc = 80): ParamShape[] {
  const gw = variant === 'n' ? 0.25 : 0.5;
  const gd = 0.33;
  const ch = (c: number) => Math.ceil((c * gw) / 8) * 8;
  const depth = (n: number) => Math.max(Math.round(n * gd), 1);
  const out: ParamShape[] = [];
  const conv = (name: string, c1: number, c2: number, k: number) => {
    out.push({ name: `${name}.conv.weight`, shape: [k, k, c1, c2] });
    out.push({ name: `${name}.bn.weight`, shape: [c2] });
    out.push({ name: `${name}.bn.bias`, shape: [c2] });
  };
  const c3 = (name: string, c1: number, c2: number, n: number) => {
    const c = c2 / 2;
    conv(`${name}.cv1`, c1, c, 1);
    conv(`${name}.cv2`, c1, c, 1);
    conv(`${name}.cv3`, 2 * c, c2, 1);
    for (let i = 0; i < n; i++) {
      conv(`${name}.m.${i}.cv1`, c, c, 1);
      conv(`${name}.m.${i}.cv2`, c, c, 3);
    }
  };
  const [c64, c128, c256, c512, c1024] = [ch(64), ch(128), ch(256), ch(512), ch(1024)];
  conv('model.0', 3, c64, 6);
  conv('model.1', c64, c128, 3);
  c3('model.2', c128, c128, depth(3));
  conv('model.3', c128, c256, 3);
  c3('model.4', c256, c256, depth(6));
  conv('model.5', c256, c512, 3);
  c3('model.6', c512, c512, depth(9));
  conv('model.7', c512, c1024, 3);
  c3('model.8', c1024, c1024, depth(3));
  conv('model.9.cv1', c1024, c1024 / 2, 1); // SPPF
  conv('model.9.cv2', (c1024 / 2) * 4, c1024, 1);
  conv('model.10', c1024, c512, 1);
  c3('model.13', c1024, c512, depth(3));
  conv('model.14', c512, c256, 1);
  c3('model.17', c512, c256, depth(3));
  conv('model.18', c256, c256, 3);
  c3('model.20', c512, c512, depth(3));
  conv('model.21', c512, c512, 3);
  c3('model.23', c1024, c1024, depth(3));
  const no = 3 * (nc + 5);
  [c256, c512, c1024].forEach((c, i) => {
    out.push({ name: `model.24.m.${i}.weight`, shape: [1, 1, c, no] });
    out.push({ name: `model.24.m.${i}.bias`, shape: [no] });
  });
  return out;
}

export const countParams = (shapes: readonly ParamShape[]) =>
  shapes.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
