/* The yolo-launch data addon: module registration (see README "Native addon"). */
#include "native.h"

#include <pthread.h>

void hsv_init(void);

/* The tables are shared by every thread that loads the addon: filled once. */
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

napi_status get_u8(napi_env env, napi_value value, uint8_t **data, size_t *length) {
  napi_typedarray_type type;
  bool is_typed;
  napi_status status = napi_is_typedarray(env, value, &is_typed);
  if (status != napi_ok || !is_typed) return napi_invalid_arg;
  status = napi_get_typedarray_info(env, value, &type, length, (void **)data, NULL, NULL);
  if (status != napi_ok) return status;
  return type == napi_uint8_array ? napi_ok : napi_invalid_arg;
}

NAPI_MODULE_INIT() {
  pthread_once(&tables_once, hsv_init);
  napi_property_descriptor props[] = {
      {"decodeJpeg", NULL, decode_jpeg, NULL, NULL, NULL, napi_enumerable, NULL},
      {"warpImage", NULL, warp_image, NULL, NULL, NULL, napi_enumerable, NULL},
      {"hsvApply", NULL, hsv_apply, NULL, NULL, NULL, napi_enumerable, NULL},
      {"flipLr", NULL, flip_lr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"resizeRgb", NULL, resize_rgb, NULL, NULL, NULL, napi_enumerable, NULL},
      {"jpegLibrary", NULL, NULL, NULL, NULL, jpeg_library(env), napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
