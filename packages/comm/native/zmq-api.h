/* The few libzmq 4.3 entry points and constants the plane uses, declared by hand (no zmq.h on
 * the build machines): the functions are looked up at run time in the zeromq npm package's
 * prebuilt addon.node, which exports them, so we share the very libzmq that zeromq.js runs.
 * Values checked against libzmq 4.3's public zmq.h. */
#ifndef YOLO_COMM_ZMQ_API_H
#define YOLO_COMM_ZMQ_API_H

#include <stddef.h>
#include <stdint.h>

#define ZMQ_PULL 7
#define ZMQ_PUSH 8
#define ZMQ_DONTWAIT 1
#define ZMQ_SNDMORE 2
#define ZMQ_POLLIN 1
#define ZMQ_POLLOUT 2
#define ZMQ_SNDBUF 11
#define ZMQ_RCVBUF 12
#define ZMQ_RCVMORE 13
#define ZMQ_LINGER 17
#define ZMQ_MAXMSGSIZE 22 /* int64_t */
#define ZMQ_SNDHWM 23
#define ZMQ_RCVHWM 24
#define ZMQ_LAST_ENDPOINT 32

typedef struct zmq_msg_t {
  unsigned char _[64] __attribute__((aligned(sizeof(void *))));
} zmq_msg_t;

typedef struct zmq_pollitem_t {
  void *socket;
  int fd;
  short events;
  short revents;
} zmq_pollitem_t;

typedef void(zmq_free_fn)(void *data, void *hint);

typedef struct zmq_api {
  void *(*ctx_new)(void);
  int (*ctx_term)(void *ctx);
  void *(*socket)(void *ctx, int type);
  int (*close)(void *s);
  int (*setsockopt)(void *s, int option, const void *value, size_t len);
  int (*getsockopt)(void *s, int option, void *value, size_t *len);
  int (*bind)(void *s, const char *endpoint);
  int (*connect)(void *s, const char *endpoint);
  int (*poll)(zmq_pollitem_t *items, int count, long timeout);
  int (*msg_init)(zmq_msg_t *m);
  int (*msg_init_size)(zmq_msg_t *m, size_t size);
  int (*msg_init_data)(zmq_msg_t *m, void *data, size_t size, zmq_free_fn *ffn, void *hint);
  int (*msg_send)(zmq_msg_t *m, void *s, int flags);
  int (*msg_recv)(zmq_msg_t *m, void *s, int flags);
  int (*msg_close)(zmq_msg_t *m);
  int (*msg_move)(zmq_msg_t *dest, zmq_msg_t *src);
  void *(*msg_data)(zmq_msg_t *m);
  size_t (*msg_size)(const zmq_msg_t *m);
  int (*msg_more)(const zmq_msg_t *m);
  int (*errno_)(void);
  const char *(*strerror)(int err);
} zmq_api;

/* The table for the shared object at `path` (loaded once per process); NULL with `why` set
 * (a static string or one written to why_buf) when it cannot be loaded. */
const zmq_api *zmq_api_load(const char *path, char *why_buf, size_t why_len);

#endif
