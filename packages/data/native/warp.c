/*
 * The random_perspective warp, the same arithmetic as src/warp.ts (which stays the reference
 * and the fallback): inverse mapping in float64, OpenCV-style bilinear with 1/32-pixel
 * fixed-point weights, constant border. Every double operation is the JS one in the same
 * order (compiled with -ffp-contract=off: no fused multiply-add), so the bytes are identical;
 * a test compares the two on random matrices.
 *
 * warpImage(src, srcW, srcH, inverse: Float64Array(9), dst, outW, outH, border)
 */
#include "native.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BITS 5
#define ONE (1 << BITS)

typedef struct {
  const uint8_t *src;
  uint8_t *dst;
  int sw, sh, stride;
  int border;
} Warp;

static inline void blend(const Warp *w, int p00, int fx, int fy, size_t o) {
  const uint8_t *s = w->src;
  const int p01 = p00 + w->stride;
  const int w00 = (ONE - fx) * (ONE - fy), w10 = fx * (ONE - fy), w01 = (ONE - fx) * fy, w11 = fx * fy;
  w->dst[o] = (uint8_t)((w00 * s[p00] + w10 * s[p00 + 3] + w01 * s[p01] + w11 * s[p01 + 3] + 512) >> 10);
  w->dst[o + 1] = (uint8_t)((w00 * s[p00 + 1] + w10 * s[p00 + 4] + w01 * s[p01 + 1] + w11 * s[p01 + 4] + 512) >> 10);
  w->dst[o + 2] = (uint8_t)((w00 * s[p00 + 2] + w10 * s[p00 + 5] + w01 * s[p01 + 2] + w11 * s[p01 + 5] + 512) >> 10);
}

/* warp.ts' sample(): bilinear at (sx, sy), out-of-range neighbours take the border value. */
static void sample(const Warp *w, double sx, double sy, size_t o) {
  if (!(sx > -1 && sy > -1 && sx < w->sw && sy < w->sh)) return;
  const int xs = (int)((sx + 1) * ONE + 0.5), ys = (int)((sy + 1) * ONE + 0.5);
  const int x0 = (xs >> BITS) - 1, y0 = (ys >> BITS) - 1;
  const int fx = xs & (ONE - 1), fy = ys & (ONE - 1);
  const int p00 = y0 * w->stride + x0 * 3;
  if (x0 >= 0 && y0 >= 0 && x0 + 1 < w->sw && y0 + 1 < w->sh) {
    blend(w, p00, fx, fy, o);
    return;
  }
  const int w00 = (ONE - fx) * (ONE - fy), w10 = fx * (ONE - fy), w01 = (ONE - fx) * fy, w11 = fx * fy;
  const int in00 = x0 >= 0 && y0 >= 0 && x0 < w->sw && y0 < w->sh;
  const int in10 = x0 + 1 < w->sw && y0 >= 0 && x0 + 1 >= 0 && y0 < w->sh;
  const int in01 = x0 >= 0 && y0 + 1 < w->sh && x0 < w->sw && y0 + 1 >= 0;
  const int in11 = x0 + 1 < w->sw && y0 + 1 < w->sh && x0 + 1 >= 0 && y0 + 1 >= 0;
  for (int c = 0; c < 3; c++) {
    const int v00 = in00 ? w->src[p00 + c] : w->border;
    const int v10 = in10 ? w->src[p00 + 3 + c] : w->border;
    const int v01 = in01 ? w->src[p00 + w->stride + c] : w->border;
    const int v11 = in11 ? w->src[p00 + w->stride + 3 + c] : w->border;
    w->dst[o + c] = (uint8_t)((w00 * v00 + w10 * v10 + w01 * v01 + w11 * v11 + 512) >> 10);
  }
}

static void warp_perspective(const Warp *w, const double *m, int outW, int outH) {
  for (int y = 0; y < outH; y++) {
    size_t o = (size_t)y * outW * 3;
    for (int x = 0; x < outW; x++, o += 3) {
      const double den = m[6] * x + m[7] * y + m[8];
      if (den != 0) sample(w, (m[0] * x + m[1] * y + m[2]) / den, (m[3] * x + m[4] * y + m[5]) / den, o);
    }
  }
}

/* Scale + translation: separable, the source column of every output column computed once. */
static int warp_scale(const Warp *w, const double *m, int outW, int outH) {
  uint8_t *colOk = malloc(outW);
  int *colOff = malloc(sizeof(int) * outW), *colF = malloc(sizeof(int) * outW);
  if (!colOk || !colOff || !colF) {
    free(colOk), free(colOff), free(colF);
    return 0;
  }
  for (int x = 0; x < outW; x++) {
    const double sx = m[0] * x + m[2];
    colOk[x] = 0;
    if (!(sx > -1 && sx < w->sw)) continue;
    const int xs = (int)((sx + 1) * ONE + 0.5), x0 = (xs >> BITS) - 1;
    colOk[x] = x0 >= 0 && x0 + 1 < w->sw;
    colOff[x] = x0 * 3;
    colF[x] = xs & (ONE - 1);
  }
  for (int y = 0; y < outH; y++) {
    const double sy = m[4] * y + m[5];
    if (!(sy > -1 && sy < w->sh)) continue;
    const int ys = (int)((sy + 1) * ONE + 0.5), y0 = (ys >> BITS) - 1, fy = ys & (ONE - 1);
    const int rowOk = y0 >= 0 && y0 + 1 < w->sh;
    const size_t rowO = (size_t)y * outW * 3;
    for (int x = 0; x < outW; x++) {
      if (!rowOk || !colOk[x]) sample(w, m[0] * x + m[2], sy, rowO + (size_t)x * 3);
      else blend(w, y0 * w->stride + colOff[x], colF[x], fy, rowO + (size_t)x * 3);
    }
  }
  free(colOk), free(colOff), free(colF);
  return 1;
}

/* warp.ts' limit(): narrows [lo, hi] to the x where 0 <= a*x + b < n - 1 (with margins). */
static void limit(double a, double b, int n, double *lo, double *hi) {
  const double eps = 1e-6, minV = eps, maxV = n - 1 - 1.0 / ONE - eps;
  if (fabs(a) < 1e-12) {
    if (b < minV || b > maxV) *hi = -1;
    return;
  }
  double x1 = (minV - b) / a, x2 = (maxV - b) / a;
  if (x1 > x2) {
    const double t = x1;
    x1 = x2;
    x2 = t;
  }
  const double c = ceil(x1), f = floor(x2);
  if (c > *lo) *lo = c;
  if (f < *hi) *hi = f;
}

/* Affine: along a row the run whose four neighbours are inside the source is an interval. */
static void warp_affine(const Warp *w, const double *m, int outW, int outH) {
  for (int y = 0; y < outH; y++) {
    const double bx = m[1] * y + m[2], by = m[4] * y + m[5];
    double lo = 0, hi = outW - 1;
    limit(m[0], bx, w->sw, &lo, &hi);
    limit(m[3], by, w->sh, &lo, &hi);
    const size_t rowO = (size_t)y * outW * 3;
    const int inner = hi >= lo;
    const int edgeEnd = inner ? (int)lo : outW;
    for (int x = 0; x < edgeEnd; x++) sample(w, m[0] * x + bx, m[3] * x + by, rowO + (size_t)x * 3);
    if (!inner) continue;
    for (int x = (int)lo; x <= (int)hi; x++) {
      const int xs = (int)((m[0] * x + bx) * ONE + 0.5), ys = (int)((m[3] * x + by) * ONE + 0.5);
      blend(w, (ys >> BITS) * w->stride + (xs >> BITS) * 3, xs & (ONE - 1), ys & (ONE - 1), rowO + (size_t)x * 3);
    }
    for (int x = (int)hi + 1; x < outW; x++) sample(w, m[0] * x + bx, m[3] * x + by, rowO + (size_t)x * 3);
  }
}

napi_value warp_image(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 8) THROW(env, "warpImage(src, srcW, srcH, inverse, dst, outW, outH, border)");
  uint8_t *src, *dst;
  size_t srcLen, dstLen, invLen;
  int32_t sw, sh, outW, outH, border;
  napi_typedarray_type type;
  double *inv;
  if (get_u8(env, argv[0], &src, &srcLen) != napi_ok || get_u8(env, argv[4], &dst, &dstLen) != napi_ok)
    THROW(env, "warpImage: src and dst must be Uint8Arrays");
  NAPI_CALL(env, napi_get_typedarray_info(env, argv[3], &type, &invLen, (void **)&inv, NULL, NULL));
  NAPI_CALL(env, napi_get_value_int32(env, argv[1], &sw));
  NAPI_CALL(env, napi_get_value_int32(env, argv[2], &sh));
  NAPI_CALL(env, napi_get_value_int32(env, argv[5], &outW));
  NAPI_CALL(env, napi_get_value_int32(env, argv[6], &outH));
  NAPI_CALL(env, napi_get_value_int32(env, argv[7], &border));
  if (type != napi_float64_array || invLen != 9) THROW(env, "warpImage: inverse must be a Float64Array(9)");
  if (sw <= 0 || sh <= 0 || outW <= 0 || outH <= 0 || srcLen != (size_t)sw * sh * 3 || dstLen != (size_t)outW * outH * 3)
    THROW(env, "warpImage: buffer sizes do not match the image sizes");
  Warp w = {src, dst, sw, sh, sw * 3, border};
  memset(dst, border, dstLen);
  if (inv[6] != 0 || inv[7] != 0 || inv[8] != 1) warp_perspective(&w, inv, outW, outH);
  else if (inv[1] == 0 && inv[3] == 0 && inv[0] > 0 && inv[4] > 0) {
    if (!warp_scale(&w, inv, outW, outH)) THROW(env, "warpImage: out of memory");
  } else warp_affine(&w, inv, outW, outH);
  return NULL;
}
