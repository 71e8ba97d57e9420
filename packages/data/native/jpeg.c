/*
 * JPEG decode with libjpeg-turbo, giving the pixels sharp (libvips' jpegload) gives: the same
 * library defaults libvips keeps (ISLOW integer IDCT, fancy upsampling), the same DCT-domain
 * scaling (scale_num 1 / scale_denom = libvips' `shrink`), RGB out. An embedded ICC profile is
 * ignored, as OpenCV's imread (hence YOLOv5) ignores it and as the sharp path is told to
 * (`ignoreIcc`). Anything libvips would treat differently is refused (the caller then decodes
 * with sharp): an EXIF orientation other than 1 (sharp rotates), CMYK/YCCK, any libjpeg
 * warning (truncated or corrupt data: sharp decides what that means).
 *
 * decodeJpeg(bytes: Uint8Array, scaleDenom: 1|2|4|8) -> Promise<{data, width, height} | null>
 * The header is read on the calling thread (to size the output), the decode runs on libuv's
 * pool like sharp's.
 */
#include "native.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
  int warnings;
} ErrorMgr;

typedef struct {
  struct jpeg_decompress_struct cinfo;
  ErrorMgr err;
  napi_async_work work;
  napi_deferred deferred;
  napi_ref input_ref;
  napi_ref output_ref;
  uint8_t *out;
  /* libvips crops a scaled decode to floor(size / scale): the output is that top-left window */
  JDIMENSION width, height;
  uint8_t *row; /* one decoded scanline, before the crop (and the grey-to-RGB spread) */
  int ok;
} DecodeJob;

static void on_error(j_common_ptr cinfo) {
  ErrorMgr *err = (ErrorMgr *)cinfo->err;
  longjmp(err->jump, 1);
}

static void on_message(j_common_ptr cinfo, int level) {
  if (level < 0) ((ErrorMgr *)cinfo->err)->warnings++;
}

static unsigned read_u16(const uint8_t *p, int big) { return big ? (p[0] << 8) | p[1] : p[0] | (p[1] << 8); }

static uint32_t read_u32(const uint8_t *p, int big) {
  return big ? ((uint32_t)p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]
             : p[0] | (p[1] << 8) | (p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* EXIF IFD0 Orientation (tag 0x0112) of an APP1 "Exif\0\0" block; 1 when absent, 0 when unreadable. */
static int exif_orientation(const uint8_t *data, unsigned len) {
  if (len < 14 || memcmp(data, "Exif\0\0", 6) != 0) return 1;
  const uint8_t *tiff = data + 6;
  unsigned n = len - 6;
  int big;
  if (tiff[0] == 'M' && tiff[1] == 'M') big = 1;
  else if (tiff[0] == 'I' && tiff[1] == 'I') big = 0;
  else return 0;
  uint32_t ifd = read_u32(tiff + 4, big);
  if (ifd > n - 2 || ifd + 2 < ifd) return 0;
  unsigned count = read_u16(tiff + ifd, big);
  for (unsigned i = 0; i < count; i++) {
    uint32_t entry = ifd + 2 + 12 * i;
    if (entry + 12 > n) return 0;
    if (read_u16(tiff + entry, big) == 0x0112) return (int)read_u16(tiff + entry + 8, big);
  }
  return 1;
}

/*
 * 1 when libvips would decode these markers to the same pixels as plain libjpeg. Only APP1 (EXIF)
 * is saved: APP2's ICC profile is ignored on both paths (YOLOv5 parity, see the README).
 */
static int markers_plain(j_decompress_ptr cinfo) {
  for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next)
    if (m->marker == JPEG_APP0 + 1 && exif_orientation(m->data, m->data_length) != 1) return 0;
  return 1;
}

static void free_job(napi_env env, DecodeJob *job) {
  jpeg_destroy_decompress(&job->cinfo);
  if (job->input_ref) napi_delete_reference(env, job->input_ref);
  if (job->output_ref) napi_delete_reference(env, job->output_ref);
  if (job->work) napi_delete_async_work(env, job->work);
  free(job->row);
  free(job);
}

static void decode_execute(napi_env env, void *data) {
  (void)env;
  DecodeJob *job = data;
  j_decompress_ptr cinfo = &job->cinfo;
  if (setjmp(job->err.jump)) {
    job->ok = 0;
    return;
  }
  jpeg_start_decompress(cinfo);
  const size_t stride = (size_t)job->width * 3;
  /* straight into the output when a scanline is exactly an output row */
  const int direct = cinfo->output_components == 3 && cinfo->output_width == job->width;
  while (cinfo->output_scanline < cinfo->output_height) {
    const JDIMENSION y = cinfo->output_scanline;
    uint8_t *dst = job->out + stride * y;
    JSAMPROW rows[1] = {direct && y < job->height ? dst : job->row};
    jpeg_read_scanlines(cinfo, rows, 1);
    if (direct || y >= job->height) continue;
    if (cinfo->output_components == 3) memcpy(dst, job->row, stride);
    else
      for (JDIMENSION x = 0; x < job->width; x++) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = job->row[x];
  }
  jpeg_finish_decompress(cinfo);
  job->ok = job->err.warnings == 0;
}

static void decode_complete(napi_env env, napi_status status, void *data) {
  DecodeJob *job = data;
  napi_value result;
  if (status == napi_ok && job->ok) {
    napi_value buffer, array, width, height;
    napi_get_reference_value(env, job->output_ref, &buffer);
    size_t bytes = (size_t)job->width * job->height * 3;
    napi_create_typedarray(env, napi_uint8_array, bytes, buffer, 0, &array);
    napi_create_uint32(env, job->width, &width);
    napi_create_uint32(env, job->height, &height);
    napi_create_object(env, &result);
    napi_set_named_property(env, result, "data", array);
    napi_set_named_property(env, result, "width", width);
    napi_set_named_property(env, result, "height", height);
  } else {
    napi_get_null(env, &result);
  }
  napi_resolve_deferred(env, job->deferred, result);
  free_job(env, job);
}

/* Reads the header; 1 when this decoder gives libvips' pixels for the file (then the output size is known). */
static int read_header(DecodeJob *job, const uint8_t *bytes, size_t len, int denom) {
  j_decompress_ptr cinfo = &job->cinfo;
  if (setjmp(job->err.jump)) return 0;
  jpeg_mem_src(cinfo, bytes, (unsigned long)len);
  jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xffff);
  jpeg_read_header(cinfo, TRUE);
  if (job->err.warnings) return 0;
  if (cinfo->out_color_space != JCS_RGB && cinfo->out_color_space != JCS_GRAYSCALE) return 0;
  if (!markers_plain(cinfo)) return 0;
  cinfo->scale_num = 1;
  cinfo->scale_denom = (unsigned)denom;
  jpeg_calc_output_dimensions(cinfo);
  job->width = cinfo->image_width / (unsigned)denom;
  job->height = cinfo->image_height / (unsigned)denom;
  if (job->width < 1 || job->height < 1 || job->width > cinfo->output_width || job->height > cinfo->output_height) return 0;
  return cinfo->output_components == 3 || cinfo->output_components == 1;
}

napi_value decode_jpeg(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], promise;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *bytes;
  size_t len;
  if (argc < 2 || get_u8(env, argv[0], &bytes, &len) != napi_ok) THROW(env, "decodeJpeg(bytes: Uint8Array, scaleDenom)");
  int32_t denom;
  NAPI_CALL(env, napi_get_value_int32(env, argv[1], &denom));
  if (denom != 1 && denom != 2 && denom != 4 && denom != 8) THROW(env, "decodeJpeg: scaleDenom must be 1, 2, 4 or 8");

  DecodeJob *job = calloc(1, sizeof(DecodeJob));
  if (!job) THROW(env, "decodeJpeg: out of memory");
  job->cinfo.err = jpeg_std_error(&job->err.pub);
  job->err.pub.error_exit = on_error;
  job->err.pub.emit_message = on_message;
  jpeg_create_decompress(&job->cinfo);
  NAPI_CALL(env, napi_create_promise(env, &job->deferred, &promise));
  if (!read_header(job, bytes, len, denom)) {
    napi_value null_value;
    napi_get_null(env, &null_value);
    napi_resolve_deferred(env, job->deferred, null_value);
    free_job(env, job);
    return promise;
  }
  napi_value output, name;
  void *out;
  NAPI_CALL(env, napi_create_arraybuffer(env, (size_t)job->width * job->height * 3, &out, &output));
  job->out = out;
  job->row = malloc((size_t)job->cinfo.output_width * job->cinfo.output_components);
  if (!job->row) THROW(env, "decodeJpeg: out of memory");
  NAPI_CALL(env, napi_create_reference(env, argv[0], 1, &job->input_ref));
  NAPI_CALL(env, napi_create_reference(env, output, 1, &job->output_ref));
  NAPI_CALL(env, napi_create_string_utf8(env, "yolo-launch:decodeJpeg", NAPI_AUTO_LENGTH, &name));
  NAPI_CALL(env, napi_create_async_work(env, NULL, name, decode_execute, decode_complete, job, &job->work));
  NAPI_CALL(env, napi_queue_async_work(env, job->work));
  return promise;
}

napi_value jpeg_library(napi_env env) {
  char text[64];
#ifdef LIBJPEG_TURBO_VERSION
#define STR2(x) #x
#define STR(x) STR2(x)
  snprintf(text, sizeof text, "libjpeg-turbo %s", STR(LIBJPEG_TURBO_VERSION));
#else
  snprintf(text, sizeof text, "libjpeg %d", JPEG_LIB_VERSION);
#endif
  napi_value value;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &value);
  return value;
}
