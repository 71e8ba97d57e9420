/* Shared helpers of the yolo-launch data addon (N-API, C). */
#ifndef YOLO_DATA_NATIVE_H
#define YOLO_DATA_NATIVE_H

#define NAPI_VERSION 8
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

#define THROW(env, msg)                      \
  do {                                       \
    napi_throw_type_error(env, NULL, msg);   \
    return NULL;                             \
  } while (0)

#define NAPI_CALL(env, call)                                      \
  do {                                                            \
    if ((call) != napi_ok) THROW(env, "yolo-launch data addon: " #call " failed"); \
  } while (0)

/* The bytes of a Uint8Array argument. */
napi_status get_u8(napi_env env, napi_value value, uint8_t **data, size_t *length);

napi_value decode_jpeg(napi_env env, napi_callback_info info);
napi_value jpeg_library(napi_env env);
napi_value warp_image(napi_env env, napi_callback_info info);
napi_value hsv_apply(napi_env env, napi_callback_info info);
napi_value flip_lr(napi_env env, napi_callback_info info);
napi_value resize_rgb(napi_env env, napi_callback_info info);

#endif
