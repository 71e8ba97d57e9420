/*
 * augment_hsv's per-pixel step, the same arithmetic as applyHsvGains in src/hsv.ts (the
 * reference and fallback): OpenCV's 8-bit RGB->HSV with its fixed-point division tables, the
 * three lookup tables (computed in JS), and HSV->RGB in float64 in the same order. Also the
 * horizontal flip.
 *
 * hsvApply(data, lutH, lutS, lutV); flipLr(data, width, height)
 */
#include "native.h"

#include <math.h>
#include <string.h>

#define SHIFT 12
#define HALF (1 << (SHIFT - 1))

static int sdiv[256], hdiv[256];
/* hh = H/30 split into sector and fraction, sf = S/255: both exact functions of one byte. */
static int sector_of[256];
static double frac_of[256], sf_of[256];

/* JS Math.round for the positive table entries: floor(x + 0.5). */
static int js_round(double x) { return (int)floor(x + 0.5); }

void hsv_init(void) {
  for (int i = 0; i < 256; i++) {
    sdiv[i] = i == 0 ? 0 : js_round((double)(255 << SHIFT) / i);
    hdiv[i] = i == 0 ? 0 : js_round((double)(180 << SHIFT) / (6 * i));
    const double hh = i / 30.0;
    sector_of[i] = (int)hh;
    frac_of[i] = hh - sector_of[i];
    sf_of[i] = i / 255.0;
  }
}

static void hsv_pixels(uint8_t *d, size_t n, const uint8_t *lutH, const uint8_t *lutS, const uint8_t *lutV) {
  for (size_t o = 0; o < n; o += 3) {
    const int r = d[o], g = d[o + 1], b = d[o + 2];
    const int v = r > g ? (r > b ? r : b) : g > b ? g : b;
    const int mn = r < g ? (r < b ? r : b) : g < b ? g : b;
    const int diff = v - mn;
    const int s = (diff * sdiv[v] + HALF) >> SHIFT;
    int h = v == r ? g - b : v == g ? b - r + 2 * diff : r - g + 4 * diff;
    h = (h * hdiv[diff] + HALF) >> SHIFT;
    if (h < 0) h += 180;
    const int S = lutS[s], V = lutV[v];
    if (S == 0) {
      d[o] = d[o + 1] = d[o + 2] = (uint8_t)V;
      continue;
    }
    const int H = lutH[h];
    const double f = frac_of[H], sf = sf_of[S];
    const double p = V * (1 - sf), q = V * (1 - sf * f), t = V * (1 - sf * (1 - f));
    double rr, gg, bb;
    switch (sector_of[H]) {
      case 0: rr = V, gg = t, bb = p; break;
      case 1: rr = q, gg = V, bb = p; break;
      case 2: rr = p, gg = V, bb = t; break;
      case 3: rr = p, gg = q, bb = V; break;
      case 4: rr = t, gg = p, bb = V; break;
      default: rr = V, gg = p, bb = q; break;
    }
    d[o] = (uint8_t)(int)(rr + 0.5);
    d[o + 1] = (uint8_t)(int)(gg + 0.5);
    d[o + 2] = (uint8_t)(int)(bb + 0.5);
  }
}

napi_value hsv_apply(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *data, *luts[3];
  size_t n, lens[3];
  if (argc < 4 || get_u8(env, argv[0], &data, &n) != napi_ok) THROW(env, "hsvApply(data, lutH, lutS, lutV)");
  for (int i = 0; i < 3; i++)
    if (get_u8(env, argv[1 + i], &luts[i], &lens[i]) != napi_ok || lens[i] != 256)
      THROW(env, "hsvApply: lookup tables must be Uint8Array(256)");
  if (n % 3) THROW(env, "hsvApply: data length must be a multiple of 3");
  hsv_pixels(data, n, luts[0], luts[1], luts[2]);
  return NULL;
}

napi_value flip_lr(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *data;
  size_t n;
  int32_t width, height;
  if (argc < 3 || get_u8(env, argv[0], &data, &n) != napi_ok) THROW(env, "flipLr(data, width, height)");
  NAPI_CALL(env, napi_get_value_int32(env, argv[1], &width));
  NAPI_CALL(env, napi_get_value_int32(env, argv[2], &height));
  if (width < 0 || height < 0 || n != (size_t)width * height * 3) THROW(env, "flipLr: size does not match");
  for (int y = 0; y < height; y++) {
    uint8_t *a = data + (size_t)y * width * 3, *b = a + (size_t)(width - 1) * 3;
    for (; a < b; a += 3, b -= 3) {
      uint8_t t[3];
      memcpy(t, a, 3);
      memcpy(a, b, 3);
      memcpy(b, t, 3);
    }
  }
  return NULL;
}
