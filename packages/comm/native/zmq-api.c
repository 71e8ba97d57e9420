/* Run-time binding to libzmq: see zmq-api.h. */
#include "zmq-api.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t api_mutex = PTHREAD_MUTEX_INITIALIZER;
static zmq_api api;
static int api_loaded;

/* Every symbol we need, by name, with where its pointer goes. */
#define SYMBOLS(X)                                                                              \
  X(ctx_new, "zmq_ctx_new") X(ctx_term, "zmq_ctx_term") X(socket, "zmq_socket")                  \
  X(close, "zmq_close") X(setsockopt, "zmq_setsockopt") X(getsockopt, "zmq_getsockopt")          \
  X(bind, "zmq_bind") X(connect, "zmq_connect") X(poll, "zmq_poll") X(msg_init, "zmq_msg_init")  \
  X(msg_init_size, "zmq_msg_init_size") X(msg_init_data, "zmq_msg_init_data")                    \
  X(msg_send, "zmq_msg_send") X(msg_recv, "zmq_msg_recv") X(msg_close, "zmq_msg_close")          \
  X(msg_move, "zmq_msg_move") X(msg_data, "zmq_msg_data") X(msg_size, "zmq_msg_size")            \
  X(msg_more, "zmq_msg_more") X(errno_, "zmq_errno") X(strerror, "zmq_strerror")

static int resolve(void *lib, char *why_buf, size_t why_len) {
#define RESOLVE(field, name)                                                \
  *(void **)&api.field = dlsym(lib, name);                                  \
  if (!api.field) {                                                         \
    snprintf(why_buf, why_len, "%s does not export " name, "the library"); \
    return 0;                                                               \
  }
  SYMBOLS(RESOLVE)
#undef RESOLVE
  return 1;
}

const zmq_api *zmq_api_load(const char *path, char *why_buf, size_t why_len) {
  pthread_mutex_lock(&api_mutex);
  if (!api_loaded) {
    /* NOLOAD first: zeromq.js has normally loaded it already; we then share its copy. The
     * handle is never closed: libzmq's threads may outlive any one plane. */
    void *lib = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (!lib) lib = dlopen(path, RTLD_NOW);
    if (!lib)
      snprintf(why_buf, why_len, "cannot load %s: %s", path, dlerror());
    else if (resolve(lib, why_buf, why_len))
      api_loaded = 1;
  }
  pthread_mutex_unlock(&api_mutex);
  return api_loaded ? &api : NULL;
}
