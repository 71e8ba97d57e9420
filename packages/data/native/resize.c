/*
 * Resize of 3-band uchar RGB giving libvips 8.18's bytes for what sharp 0.35 runs for
 * `sharp(raw).resize(w, h, { fit: 'fill', kernel: 'linear' })`:
 *   vips_resize(in, 1 / (w0 / w), vscale = 1 / (h0 / h), kernel = linear, gap = 2)
 * which is, per axis that shrinks, vips_reducev then vips_reduceh (each first box-shrinks by
 * the integer part the gap allows: vips_shrinkv / vips_shrinkh with ceil), and for an axis that
 * grows, one vips_affine with the bilinear interpolator (idx = idy = 0.5, extend copy).
 * The arithmetic below is our own code for what those operations compute on uchar (their
 * Highway paths give the same integers as their C paths): 12-bit fixed-point masks picked
 * among 65 sub-pixel positions, round-half-up shifts, box means by a 2^32 reciprocal.
 *
 * Where a float coordinate is accumulated (reduce and affine step X += shrink along a tile),
 * libvips starts afresh at each region it is asked for; the sink's regions are 16-row strips
 * (demand style FATSTRIP) or 128x128 tiles once vips_shrinkv (SMALLTILE) is in the pipeline,
 * and the same regions are modelled here. When a reduce feeds vips_affine (one axis shrinks,
 * the other grows), the regions the affine asks for are not modelled: the plan is refused if
 * a sampling position lies so close to a mask boundary that a different start could move it.
 *
 * resizeRgb(src, w0, h0, dst, w, h) -> boolean   (synchronous; false: not matched, use sharp)
 */
#include "native.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* libvips' fixed-point constants: masks at 1/64-pixel steps, 12-bit weights */
#define SUBPIXELS 64
#define WEIGHT_SHIFT 12
#define WEIGHT_ONE (1 << WEIGHT_SHIFT)
#define FATSTRIP_HEIGHT 16
#define SMALLTILE_SIZE 128
/* beyond this width libvips' thin strips change the tiling; vips_reduce's own limit is 2000 */
#define MAX_WIDTH 10000
#define MAX_POINTS 2000

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* One reduce axis (vips_reduceh / vips_reducev with gap 2, linear kernel). */
typedef struct {
  int in_size, out_size;
  int box;         /* integer box shrink first (1: none) */
  int boxed_size;  /* size after it: ceil(in / box) */
  double residual; /* what the kernel still shrinks by (1.0: the box did it all) */
  int n_point;
  double offset;   /* libvips' hoffset / voffset */
  short *masks;    /* (SUBPIXELS + 1) x n_point, 12-bit */
} Reduce;

/* The linear kernel's weights at sub-pixel position x, normalised, then truncated to 12 bits
 * as libvips does ((short)(w * 4096)): the truncation is why the weights may not sum to 4096. */
static void linear_mask(short *mask, int n, double shrink, double x) {
  double w[MAX_POINTS], sum = 0.0;
  const double half = x + n / 2.0 - 1;
  for (int i = 0; i < n; i++) {
    const double d = fabs((i - half) / shrink);
    w[i] = d < 1.0 ? 1.0 - d : 0.0;
    sum += w[i];
  }
  for (int i = 0; i < n; i++) mask[i] = (short)(w[i] / sum * WEIGHT_ONE);
}

/* Sizes, box factor, offset and masks, in the order vips_reduce*_build computes them. */
static int reduce_plan(Reduce *r, int in_size, double shrink) {
  memset(r, 0, sizeof *r);
  r->in_size = in_size;
  r->out_size = (int)((double)in_size / shrink + 0.5);
  if (r->out_size < 1) return 0;
  double extra = r->out_size * shrink - in_size;
  r->residual = shrink;
  r->box = (int)floor((double)in_size / r->out_size / 2.0);
  if (r->box < 1) r->box = 1;
  r->boxed_size = (in_size + r->box - 1) / r->box;
  if (r->box > 1) {
    r->residual /= r->box;
    extra /= r->box;
  }
  if (r->residual == 1.0) return r->boxed_size == r->out_size;
  r->n_point = 2 * (int)rint(r->residual) + 1;
  if (r->n_point > MAX_POINTS) return 0;
  r->offset = (1 + extra) / 2.0 - 1;
  r->masks = malloc(sizeof(short) * (SUBPIXELS + 1) * r->n_point);
  if (!r->masks) return 0;
  for (int t = 0; t <= SUBPIXELS; t++)
    linear_mask(r->masks + t * r->n_point, r->n_point, r->residual, (double)((float)t / SUBPIXELS));
  return 1;
}

/* Where output i of a region starting at `start` samples: the first padded input index and the
 * mask, from libvips' X = (start + 0.5) * residual - 0.5 - offset, then X += residual per step.
 * The mask's zero weights at either end are skipped (they add nothing to the sum). */
typedef struct {
  int first, count;
  const short *mask;
} Tap;

static Tap tap_at(const Reduce *r, double pos) {
  const int twice = (int)(pos * SUBPIXELS * 2);
  const short *mask = r->masks + (((twice & (SUBPIXELS * 2 - 1)) + 1) >> 1) * r->n_point;
  int lead = 0, last = r->n_point - 1;
  while (lead < last && mask[lead] == 0) lead++;
  while (last > lead && mask[last] == 0) last--;
  return (Tap){(int)pos + lead, last - lead + 1, mask + lead};
}

static void reduce_taps(const Reduce *r, int tile, Tap *taps) {
  for (int start = 0; start < r->out_size; start += tile) {
    double pos = (start + 0.5) * r->residual - 0.5 - r->offset;
    const int end = start + tile < r->out_size ? start + tile : r->out_size;
    for (int i = start; i < end; i++, pos += r->residual) taps[i] = tap_at(r, pos);
  }
}

/* 1 when some output samples within 1e-6 of an odd multiple of 1/128 pixel: there the mask index
 * flips with the last bit of the accumulated position, i.e. with where libvips' region started.
 * (At even multiples both neighbouring masks are the same weights, shifted by one input.) */
static int reduce_is_fragile(const Reduce *r) {
  if (r->residual == 1.0) return 0;
  for (int i = 0; i < r->out_size; i++) {
    const double twice = ((i + 0.5) * r->residual - 0.5 - r->offset) * SUBPIXELS * 2;
    const double odd = 2 * floor(twice / 2) + 1;
    if (fabs(twice - odd) < 1e-6) return 1;
  }
  return 0;
}

/* vips_shrinkv(ceil): mean of `box` rows, the last row repeated past the bottom, through
 * libvips' reciprocal ((sum + box/2) * floor(2^32 / (256 box))) >> 24. */
static int box_rows(const uint8_t *src, int w, int h, int box, uint8_t *dst) {
  const size_t ne = (size_t)w * 3;
  const uint32_t multiplier = (uint32_t)((1ULL << 32) / (256u * box));
  uint32_t *sum = malloc(sizeof(uint32_t) * ne);
  if (!sum) return 0;
  for (int y = 0; y < (h + box - 1) / box; y++) {
    for (size_t e = 0; e < ne; e++) sum[e] = (uint32_t)(box / 2);
    for (int k = 0; k < box; k++) {
      const uint8_t *row = src + ne * clampi(y * box + k, 0, h - 1);
      for (size_t e = 0; e < ne; e++) sum[e] += row[e];
    }
    for (size_t e = 0; e < ne; e++) dst[ne * y + e] = (uint8_t)((sum[e] * multiplier) >> 24);
  }
  free(sum);
  return 1;
}

/* vips_shrinkh(ceil): the same along a row, the last column repeated past the right edge. */
static void box_columns(const uint8_t *src, int w, int h, int box, uint8_t *dst) {
  const int wo = (w + box - 1) / box;
  const uint32_t multiplier = (uint32_t)((1ULL << 32) / (256u * box));
  for (int y = 0; y < h; y++) {
    const uint8_t *row = src + (size_t)y * w * 3;
    uint8_t *out = dst + (size_t)y * wo * 3;
    for (int x = 0; x < wo; x++)
      for (int b = 0; b < 3; b++) {
        uint32_t sum = (uint32_t)(box / 2);
        for (int k = 0; k < box; k++) sum += row[clampi(x * box + k, 0, w - 1) * 3 + b];
        out[x * 3 + b] = (uint8_t)((sum * multiplier) >> 24);
      }
  }
}

static uint8_t round_weighted(int32_t sum) {
  const int32_t v = (sum + (WEIGHT_ONE >> 1)) >> WEIGHT_SHIFT;
  return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* sum += weight * row; restrict (the row cannot alias the sums) lets the compiler vectorise it */
static void accumulate_row(int32_t *restrict sum, const uint8_t *restrict row, int16_t weight, size_t ne) {
  for (size_t e = 0; e < ne; e++) sum[e] += weight * row[e];
}

/* vips_reducev's kernel pass on an already box-shrunk image (w x r->boxed_size). The input is
 * padded by ceil(n/2) - 1 copied rows on top (libvips' embed), hence `pad`. */
static int kernel_rows(const Reduce *r, const uint8_t *src, int w, int tile, uint8_t *dst) {
  const size_t ne = (size_t)w * 3;
  const int n = r->n_point, pad = (n + 1) / 2 - 1, h = r->boxed_size;
  Tap *taps = malloc(sizeof(Tap) * r->out_size);
  int32_t *sum = malloc(sizeof(int32_t) * ne);
  if (!taps || !sum) {
    free(taps);
    free(sum);
    return 0;
  }
  reduce_taps(r, tile, taps);
  for (int y = 0; y < r->out_size; y++) {
    for (size_t e = 0; e < ne; e++) sum[e] = 0;
    for (int i = 0; i < taps[y].count; i++)
      accumulate_row(sum, src + ne * clampi(taps[y].first + i - pad, 0, h - 1), taps[y].mask[i], ne);
    for (size_t e = 0; e < ne; e++) dst[ne * y + e] = round_weighted(sum[e]);
  }
  free(taps);
  free(sum);
  return 1;
}

/* vips_reduceh's kernel pass: each row copied into a buffer padded with its edge pixels
 * (pad = ceil(n/2) - 1 on the left, as libvips' embed), then the taps per output column. */
static void pad_line(const uint8_t *row, int w, int pad, int padded, uint8_t *line) {
  memcpy(line + pad * 3, row, (size_t)w * 3);
  for (int x = 0; x < pad; x++) memcpy(line + x * 3, row, 3);
  for (int x = pad + w; x < padded; x++) memcpy(line + x * 3, row + (w - 1) * 3, 3);
}

static int kernel_columns(const Reduce *r, const uint8_t *src, int h, int tile, uint8_t *dst) {
  const int n = r->n_point, pad = (n + 1) / 2 - 1, w = r->boxed_size, wo = r->out_size;
  const int padded = w + 2 * n + 2;
  Tap *taps = malloc(sizeof(Tap) * wo);
  uint8_t *line = malloc((size_t)padded * 3);
  if (!taps || !line) {
    free(taps);
    free(line);
    return 0;
  }
  reduce_taps(r, tile, taps);
  for (int y = 0; y < h; y++) {
    pad_line(src + (size_t)y * w * 3, w, pad, padded, line);
    uint8_t *out = dst + (size_t)y * wo * 3;
    for (int x = 0; x < wo; x++) {
      const short *c = taps[x].mask;
      const uint8_t *p = line + clampi(taps[x].first, 0, padded - taps[x].count) * 3;
      int32_t s0 = 0, s1 = 0, s2 = 0;
      for (int i = 0; i < taps[x].count; i++, p += 3) {
        s0 += c[i] * p[0];
        s1 += c[i] * p[1];
        s2 += c[i] * p[2];
      }
      out[x * 3] = round_weighted(s0);
      out[x * 3 + 1] = round_weighted(s1);
      out[x * 3 + 2] = round_weighted(s2);
    }
  }
  free(taps);
  free(line);
  return 1;
}

/* A whole reducev (box rows, then the kernel) from w x r->in_size into out (w x r->out_size). */
static int reduce_rows(const Reduce *r, const uint8_t *src, int w, int tile, uint8_t *out) {
  if (r->box > 1 && r->residual == 1.0) return box_rows(src, w, r->in_size, r->box, out);
  uint8_t *boxed = NULL;
  if (r->box > 1) {
    boxed = malloc((size_t)w * 3 * r->boxed_size);
    if (!boxed || !box_rows(src, w, r->in_size, r->box, boxed)) {
      free(boxed);
      return 0;
    }
    src = boxed;
  }
  const int ok = kernel_rows(r, src, w, tile, out);
  free(boxed);
  return ok;
}

/* A whole reduceh from r->in_size x h into out (r->out_size x h). */
static int reduce_columns(const Reduce *r, const uint8_t *src, int h, int tile, uint8_t *out) {
  if (r->box > 1 && r->residual == 1.0) {
    box_columns(src, r->in_size, h, r->box, out);
    return 1;
  }
  uint8_t *boxed = NULL;
  if (r->box > 1) {
    if (!(boxed = malloc((size_t)r->boxed_size * h * 3))) return 0;
    box_columns(src, r->in_size, h, r->box, boxed);
    src = boxed;
  }
  const int ok = kernel_columns(r, src, h, tile, out);
  free(boxed);
  return ok;
}

/* vips_affine(a, 0, 0, d) with idx = idy = 0.5 as vips_resize calls it to enlarge: the inverse
 * matrix as libvips computes it (1 / det times the cofactor, so 1/a is not exactly a's inverse),
 * output size round(a * w0), and each output (x, y) sampled at (x * ia + 0.5, y * id + 0.5) in
 * the input padded by one copied pixel (idx 0.5 minus that border), x accumulated along a tile. */
typedef struct {
  double a, d, ia, id;
  int out_w, out_h;
} Affine;

static void affine_plan(Affine *m, double a, double d, int w0, int h0) {
  const double inv_det = 1.0 / (a * d);
  m->a = a;
  m->d = d;
  m->ia = inv_det * d;
  m->id = inv_det * a;
  m->out_w = (int)(a * w0 + 0.5);
  m->out_h = (int)(d * h0 + 0.5);
}

/* Padded index (space with a one-pixel border) -> source index, and the 12-bit fraction. */
typedef struct {
  int lo, hi, frac;
} Sample;

static void affine_axis(double step, int size, int out, int tile, Sample *s) {
  for (int start = 0; start < out; start += tile) {
    double pos = step * start + 0.5;
    const int end = start + tile < out ? start + tile : out;
    for (int i = start; i < end; i++, pos += step) {
      const int ip = (int)pos;
      s[i].lo = clampi(ip - 1, 0, size - 1);
      s[i].hi = clampi(ip, 0, size - 1);
      s[i].frac = (int)((pos - ip) * WEIGHT_ONE);
    }
  }
}

/* libvips' bilinear on ints: corner weights from X, Y in 1/4096, the diagonal product
 * truncated first, the rest by difference, so the four always sum to 4096. */
static void bilinear_row(const uint8_t *top, const uint8_t *bottom, const Sample *xs, int out_w, int fy,
                         uint8_t *out) {
  const int fyd = WEIGHT_ONE - fy;
  for (int x = 0; x < out_w; x++) {
    const int fx = xs[x].frac;
    const int c4 = (fy * fx) >> WEIGHT_SHIFT, c2 = (fyd * fx) >> WEIGHT_SHIFT;
    const int c3 = fy - c4, c1 = fyd - c2;
    const int l = xs[x].lo * 3, r = xs[x].hi * 3;
    for (int b = 0; b < 3; b++)
      out[x * 3 + b] = (uint8_t)((c1 * top[l + b] + c2 * top[r + b] + c3 * bottom[l + b] + c4 * bottom[r + b] +
                                  (WEIGHT_ONE >> 1)) >>
                                 WEIGHT_SHIFT);
  }
}

static int affine_run(const Affine *m, const uint8_t *src, int w0, int h0, int tile_w, uint8_t *dst) {
  Sample *xs = malloc(sizeof(Sample) * m->out_w);
  Sample *ys = malloc(sizeof(Sample) * m->out_h);
  if (!xs || !ys) {
    free(xs);
    free(ys);
    return 0;
  }
  affine_axis(m->ia, w0, m->out_w, tile_w, xs);
  affine_axis(m->id, h0, m->out_h, 1, ys); /* rows: iy is computed afresh for every row */
  for (int y = 0; y < m->out_h; y++)
    bilinear_row(src + (size_t)ys[y].lo * w0 * 3, src + (size_t)ys[y].hi * w0 * 3, xs, m->out_w, ys[y].frac,
                 dst + (size_t)y * m->out_w * 3);
  free(xs);
  free(ys);
  return 1;
}

/* The stages vips_resize runs for these sizes, and the regions libvips will compute them in. */
typedef struct {
  Reduce rows, columns; /* used when shrinks_v / shrinks_h */
  Affine grow;          /* used when grows */
  int shrinks_v, shrinks_h, grows;
  int row_tile, column_tile; /* region height for reducev's accumulation, width for the others */
} Plan;

static void plan_free(Plan *p) {
  free(p->rows.masks);
  free(p->columns.masks);
}

/* The tiling: the sink asks for 16-row full-width strips (FATSTRIP) unless vips_shrinkv
 * (SMALLTILE) is upstream, then 128x128 tiles; vips_shrinkh between the two reduces asks
 * its input for 16-row chunks. */
static void plan_tiling(Plan *p, int w) {
  const int small = p->shrinks_v && p->rows.box > 1;
  p->column_tile = small ? SMALLTILE_SIZE : w;
  p->row_tile = small ? SMALLTILE_SIZE : FATSTRIP_HEIGHT;
  if (p->shrinks_h && p->columns.box > 1) p->row_tile = FATSTRIP_HEIGHT;
}

/* 1 when this module gives libvips' bytes for w0 x h0 -> w x h (see the header comment). */
static int plan_make(Plan *p, int w0, int h0, int w, int h) {
  memset(p, 0, sizeof *p);
  if (w0 > MAX_WIDTH || w > MAX_WIDTH) return 0;
  /* sharp: scale = 1 / (w0 / w); vips_resize: never below one pixel */
  double hscale = 1.0 / ((double)w0 / w), vscale = 1.0 / ((double)h0 / h);
  if (hscale < 1.0 / w0) hscale = 1.0 / w0;
  if (vscale < 1.0 / h0) vscale = 1.0 / h0;
  int cw = w0, ch = h0;
  p->shrinks_v = vscale < 1.0;
  p->shrinks_h = hscale < 1.0;
  p->grows = hscale > 1.0 || vscale > 1.0;
  if (p->shrinks_v && !reduce_plan(&p->rows, h0, 1.0 / vscale)) return 0;
  if (p->shrinks_v) ch = p->rows.out_size;
  if (p->shrinks_h && !reduce_plan(&p->columns, w0, 1.0 / hscale)) return 0;
  if (p->shrinks_h) cw = p->columns.out_size;
  if (p->grows) {
    affine_plan(&p->grow, hscale > 1.0 ? hscale : 1.0, vscale > 1.0 ? vscale : 1.0, cw, ch);
    cw = p->grow.out_w;
    ch = p->grow.out_h;
    /* a reduce feeding the affine runs in regions we do not model: only when that cannot matter */
    if (p->shrinks_v && reduce_is_fragile(&p->rows)) return 0;
    if (p->shrinks_h && reduce_is_fragile(&p->columns)) return 0;
  }
  plan_tiling(p, cw);
  return cw == w && ch == h;
}

/* Runs the plan's stages in vips_resize's order (reducev, reduceh, affine), the last into dst. */
static int plan_run(const Plan *p, const uint8_t *src, int w0, int h0, uint8_t *dst) {
  uint8_t *stage[2] = {NULL, NULL};
  int cw = w0, ch = h0, ok = 1, n = 0;
  const int last = p->grows ? 2 : p->shrinks_h ? 1 : 0;
  if (p->shrinks_v) {
    uint8_t *out = last == 0 ? dst : (stage[n++] = malloc((size_t)cw * p->rows.out_size * 3));
    ok = out && reduce_rows(&p->rows, src, cw, p->row_tile, out);
    src = out;
    ch = p->rows.out_size;
  }
  if (ok && p->shrinks_h) {
    uint8_t *out = last == 1 ? dst : (stage[n++] = malloc((size_t)p->columns.out_size * ch * 3));
    ok = out && reduce_columns(&p->columns, src, ch, p->column_tile, out);
    src = out;
    cw = p->columns.out_size;
  }
  if (ok && p->grows) ok = affine_run(&p->grow, src, cw, ch, p->column_tile, dst);
  free(stage[0]);
  free(stage[1]);
  return ok;
}

napi_value resize_rgb(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6], result;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) THROW(env, "resizeRgb(src, srcW, srcH, dst, dstW, dstH)");
  uint8_t *src, *dst;
  size_t srcLen, dstLen;
  int32_t w0, h0, w, h;
  if (get_u8(env, argv[0], &src, &srcLen) != napi_ok || get_u8(env, argv[3], &dst, &dstLen) != napi_ok)
    THROW(env, "resizeRgb: src and dst must be Uint8Arrays");
  NAPI_CALL(env, napi_get_value_int32(env, argv[1], &w0));
  NAPI_CALL(env, napi_get_value_int32(env, argv[2], &h0));
  NAPI_CALL(env, napi_get_value_int32(env, argv[4], &w));
  NAPI_CALL(env, napi_get_value_int32(env, argv[5], &h));
  if (w0 <= 0 || h0 <= 0 || w <= 0 || h <= 0 || srcLen != (size_t)w0 * h0 * 3 || dstLen != (size_t)w * h * 3)
    THROW(env, "resizeRgb: buffer sizes do not match the image sizes");
  Plan plan;
  int ok = plan_make(&plan, w0, h0, w, h);
  if (ok) ok = plan_run(&plan, src, w0, h0, dst);
  plan_free(&plan);
  NAPI_CALL(env, napi_get_boolean(env, ok, &result));
  return result;
}
