/* N-API glue of the comm native plane (src/native.ts has the typed interface). Context aware:
 * the addon is loaded by the engine worker and by the caller's thread; planes live in one
 * process-wide table addressed by integer id. Async ops complete on the thread that called
 * them, through a per-call threadsafe function; sync ops block on the op's condition. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "plane.h"

static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;
/* Closed planes stay as tombstones (a few hundred bytes): a call racing close() never touches
 * freed memory, and their id keeps answering DESTROYED. */
static plane **table;
static int table_len;

/* ---- errors ---- */

static napi_value make_error(napi_env env, const plane_error *e) {
  napi_value code, message, error, peer;
  napi_create_string_utf8(env, err_code_name(e->code), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, e->message, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error); /* sets error.code */
  napi_create_int32(env, e->peer, &peer);
  napi_set_named_property(env, error, "peerRank", peer);
  return error;
}

static napi_value throw_error(napi_env env, err_code code, int peer, const char *message) {
  plane_error e = {code, peer, ""};
  snprintf(e.message, sizeof e.message, "%s", message);
  napi_throw(env, make_error(env, &e));
  return NULL;
}

static const plane_error destroyed = {E_DESTROYED, -1, "the process group was destroyed"};

/* ---- arguments ---- */

#define ARGS(n)                       \
  size_t argc = n;                    \
  napi_value argv[n];                 \
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL)

static int get_int64(napi_env env, napi_value v, int64_t *out) {
  return napi_get_value_int64(env, v, out) == napi_ok;
}

static plane *get_plane(napi_env env, napi_value v) {
  int32_t id = 0;
  plane *p = NULL;
  napi_get_value_int32(env, v, &id);
  pthread_mutex_lock(&table_mu);
  if (id > 0 && id <= table_len) p = table[id - 1];
  pthread_mutex_unlock(&table_mu);
  if (!p) throw_error(env, E_INVALID, -1, "no such native plane (create() returns the id)");
  return p;
}

/* The plane if it is still open, else NULL with DESTROYED thrown. */
static plane *open_plane(napi_env env, napi_value v) {
  plane *p = get_plane(env, v);
  if (p && p->closing) {
    napi_throw(env, make_error(env, &destroyed));
    return NULL;
  }
  return p;
}

static int get_option(napi_env env, napi_value obj, const char *name, int64_t *out) {
  napi_value v;
  if (napi_get_named_property(env, obj, name, &v) == napi_ok && get_int64(env, v, out)) return 1;
  char message[128];
  snprintf(message, sizeof message, "NativePlaneOptions.%s must be a number", name);
  throw_error(env, E_INVALID, -1, message);
  return 0;
}

/* ---- create, bind, connect ---- */

static int read_options(napi_env env, napi_value obj, plane_options *o, char *lib, size_t lib_len) {
  int64_t v[9];
  static const char *const names[] = {"rank",          "worldSize",         "segmentBytes",
                                      "minSegmentBytes", "smallAllReduceMaxBytes", "highWaterMark",
                                      "socketBufferBytes", "maxMessageBytes", "timeoutMs"};
  for (int i = 0; i < 9; i++)
    if (!get_option(env, obj, names[i], &v[i])) return 0;
  /* the session comes with start() */
  *o = (plane_options){(int)v[0], (int)v[1], 0, v[2], v[3], v[4], (int)v[5], (int)v[6], v[7], v[8]};
  napi_value path;
  size_t len;
  if (napi_get_named_property(env, obj, "zmqLibrary", &path) != napi_ok ||
      napi_get_value_string_utf8(env, path, lib, lib_len, &len) != napi_ok) {
    throw_error(env, E_INVALID, -1, "NativePlaneOptions.zmqLibrary must be the path of libzmq's shared object");
    return 0;
  }
  if (o->world < 1 || o->rank < 0 || o->rank >= o->world || o->segment_bytes < 4 || o->min_segment_bytes < 4) {
    throw_error(env, E_INVALID, -1, "NativePlaneOptions: need 0 <= rank < worldSize and segment sizes >= 4 bytes");
    return 0;
  }
  return 1;
}

static void set_socket_options(plane *p) {
  const zmq_api *z = p->z;
  int hwm = p->o.high_water_mark, buf = p->o.socket_buffer_bytes;
  int64_t max = p->o.max_message_bytes;
  z->setsockopt(p->push, ZMQ_SNDHWM, &hwm, sizeof hwm);
  z->setsockopt(p->pull, ZMQ_RCVHWM, &hwm, sizeof hwm);
  if (buf > 0) {
    z->setsockopt(p->push, ZMQ_SNDBUF, &buf, sizeof buf);
    z->setsockopt(p->pull, ZMQ_RCVBUF, &buf, sizeof buf);
  }
  z->setsockopt(p->pull, ZMQ_MAXMSGSIZE, &max, sizeof max);
}

static void close_begin(plane *p, int64_t linger_ms);
static void close_finish(plane *p);

/* Never leave a plane thread running when its creator's environment goes away. */
static void env_cleanup(void *arg) {
  plane *p = arg;
  if (p->closing) return;
  close_begin(p, 0);
  close_finish(p);
}

static int table_add(plane *p) {
  pthread_mutex_lock(&table_mu);
  plane **grown = realloc(table, sizeof *table * (table_len + 1));
  if (grown) {
    table = grown;
    table[table_len++] = p;
    p->id = table_len;
  }
  pthread_mutex_unlock(&table_mu);
  return grown != NULL;
}

static napi_value create(napi_env env, napi_callback_info info) {
  ARGS(1);
  plane_options o;
  char lib[4096], why[4200];
  if (!read_options(env, argv[0], &o, lib, sizeof lib)) return NULL;
  const zmq_api *z = zmq_api_load(lib, why, sizeof why);
  if (!z) return throw_error(env, E_INVALID, -1, why);
  plane *p = calloc(1, sizeof *p);
  if (!p) return throw_error(env, E_INVALID, -1, "out of memory");
  p->o = o;
  p->z = z;
  p->env = env;
  p->ctx = z->ctx_new();
  p->push = p->ctx ? z->socket(p->ctx, ZMQ_PUSH) : NULL;
  p->pull = p->ctx ? z->socket(p->ctx, ZMQ_PULL) : NULL;
  p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  p->left_after = malloc(sizeof *p->left_after * o.world);
  if (!p->push || !p->pull || p->wake_fd < 0 || !p->left_after || !table_add(p))
    return throw_error(env, E_INVALID, -1, "cannot create the plane's zeromq sockets or eventfd");
  for (int r = 0; r < o.world; r++) p->left_after[r] = -1;
  pthread_mutex_init(&p->mu, NULL);
  set_socket_options(p);
  napi_add_env_cleanup_hook(env, env_cleanup, p);
  napi_value id;
  napi_create_int32(env, p->id, &id);
  return id;
}

/* bind/connect: before start() only (then the thread owns the sockets). */
static napi_value endpoint_call(napi_env env, napi_callback_info info, int is_bind) {
  ARGS(2);
  plane *p = open_plane(env, argv[0]);
  if (!p) return NULL;
  if (p->thread_started) return throw_error(env, E_INVALID, -1, "bind/connect must come before start()");
  char endpoint[1024];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[1], endpoint, sizeof endpoint, &len) != napi_ok)
    return throw_error(env, E_INVALID, -1, "the endpoint must be a string");
  if ((is_bind ? p->z->bind(p->pull, endpoint) : p->z->connect(p->push, endpoint)) != 0) {
    char message[1200];
    snprintf(message, sizeof message, "%s %s failed: %s", is_bind ? "bind" : "connect", endpoint,
             p->z->strerror(p->z->errno_()));
    return throw_error(env, E_INVALID, -1, message);
  }
  napi_value result;
  if (!is_bind) return NULL;
  size_t size = sizeof endpoint;
  p->z->getsockopt(p->pull, ZMQ_LAST_ENDPOINT, endpoint, &size);
  napi_create_string_utf8(env, endpoint, NAPI_AUTO_LENGTH, &result);
  return result;
}

static napi_value bind_(napi_env env, napi_callback_info info) {
  return endpoint_call(env, info, 1);
}

static napi_value connect_(napi_env env, napi_callback_info info) {
  return endpoint_call(env, info, 0);
}

/* ---- start and the callbacks into JS ---- */

static void free_frame(napi_env env, void *data, void *hint) {
  frame *f = hint;
  plane *p = f->next ? (plane *)f->next : NULL;
  if (p) p->z->msg_close(&f->payload);
  free(f);
}

/* onFrame(header, payload): the payload is an external Buffer over the received zmq_msg. */
static void call_on_frame(napi_env env, napi_value js_cb, void *context, void *data) {
  plane *p = context;
  frame *f = data;
  f->next = (frame *)p; /* free_frame finds the zmq api through it */
  if (!env) {
    free_frame(env, NULL, f);
    return;
  }
  napi_value args[2], undefined;
  size_t size = p->z->msg_size(&f->payload);
  napi_create_buffer_copy(env, HEADER_BYTES, &f->h, NULL, &args[0]);
  if (size == 0) {
    napi_create_buffer(env, 0, NULL, &args[1]);
    free_frame(env, NULL, f);
  } else if (napi_create_external_buffer(env, size, p->z->msg_data(&f->payload), free_frame, f, &args[1]) !=
             napi_ok) {
    napi_create_buffer_copy(env, size, p->z->msg_data(&f->payload), NULL, &args[1]);
    free_frame(env, NULL, f);
  }
  napi_get_undefined(env, &undefined);
  napi_call_function(env, undefined, js_cb, 2, args, NULL);
}

void deliver_js_frame(plane *p, frame *f) {
  if (!p->on_frame || napi_call_threadsafe_function(p->on_frame, f, napi_tsfn_blocking) != napi_ok) {
    p->z->msg_close(&f->payload);
    free(f);
  }
}

static void call_on_failure(napi_env env, napi_value js_cb, void *context, void *data) {
  if (env) {
    napi_value undefined, error = make_error(env, data);
    napi_get_undefined(env, &undefined);
    napi_call_function(env, undefined, js_cb, 1, &error, NULL);
  }
  free(data);
}

void notify_failure(plane *p, const plane_error *e) {
  plane_error *copy = malloc(sizeof *copy);
  if (!copy) return;
  *copy = *e;
  if (!p->on_failure || napi_call_threadsafe_function(p->on_failure, copy, napi_tsfn_nonblocking) != napi_ok) free(copy);
}

static void call_on_start(napi_env env, napi_value js_cb, void *context, void *data) {
  plane *p = context;
  if (env) {
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    if (data)
      napi_reject_deferred(env, p->start_deferred, make_error(env, data));
    else
      napi_resolve_deferred(env, p->start_deferred, undefined);
  }
  free(data);
}

/* The handshake ended (e NULL: the previous rank's Hello arrived). Thread only. */
void start_settle(plane *p, const plane_error *e) {
  plane_error *copy = NULL;
  if (e && (copy = malloc(sizeof *copy))) *copy = *e;
  napi_call_threadsafe_function(p->on_start, copy, napi_tsfn_blocking);
  napi_release_threadsafe_function(p->on_start, napi_tsfn_release);
}

static napi_status make_tsfn(napi_env env, napi_value fn, plane *p, napi_threadsafe_function_call_js call,
                             int ref, napi_threadsafe_function *out) {
  napi_value name;
  napi_create_string_utf8(env, "yolo-comm-native", NAPI_AUTO_LENGTH, &name);
  napi_status s = napi_create_threadsafe_function(env, fn, NULL, name, 0, 1, NULL, NULL, p, call, out);
  if (s == napi_ok && !ref) napi_unref_threadsafe_function(env, *out);
  return s;
}

/* start(id, session, onFrame, onFailure): the session number is known only after the
 * rendezvous, which needs the PULL socket's address first (create + bind). */
static napi_value start(napi_env env, napi_callback_info info) {
  ARGS(4);
  plane *p = open_plane(env, argv[0]);
  if (!p) return NULL;
  if (p->thread_started) return throw_error(env, E_INVALID, -1, "start() was already called");
  int64_t session;
  if (!get_int64(env, argv[1], &session) || session < 0 || session > UINT32_MAX)
    return throw_error(env, E_INVALID, -1, "start(id, session, onFrame, onFailure): session must be a uint32");
  p->o.session = (uint32_t)session;
  napi_value promise;
  if (make_tsfn(env, argv[2], p, call_on_frame, 0, &p->on_frame) != napi_ok ||
      make_tsfn(env, argv[3], p, call_on_failure, 0, &p->on_failure) != napi_ok ||
      make_tsfn(env, NULL, p, call_on_start, 1, &p->on_start) != napi_ok)
    return throw_error(env, E_INVALID, -1, "start(id, session, onFrame, onFailure): two functions expected");
  napi_create_promise(env, &p->start_deferred, &promise);
  if (pthread_create(&p->thread, NULL, plane_thread, p) != 0)
    return throw_error(env, E_INVALID, -1, "cannot start the plane thread");
  p->thread_started = 1;
  return promise;
}

/* ---- ops ---- */

static void op_free(napi_env env, op *o) {
  if (env && o->data_ref) napi_delete_reference(env, o->data_ref);
  pthread_cond_destroy(&o->cond);
  free(o);
}

static void call_on_op(napi_env env, napi_value js_cb, void *context, void *data) {
  op *o = data;
  if (env) {
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    if (o->error.code != E_NONE)
      napi_reject_deferred(env, o->deferred, make_error(env, &o->error));
    else
      napi_resolve_deferred(env, o->deferred, undefined);
  }
  op_free(env, o);
}

/* Called with the plane mutex held, on any thread. */
void op_complete_locked(plane *p, op *o, const plane_error *e) {
  if (e) o->error = *e;
  if (o->sync) {
    o->done = 1;
    pthread_cond_broadcast(&o->cond);
    return;
  }
  /* `o` may be freed on its JS thread as soon as the call is queued: read the handle first. */
  napi_threadsafe_function tsfn = o->tsfn;
  napi_call_threadsafe_function(tsfn, o, napi_tsfn_nonblocking);
  napi_release_threadsafe_function(tsfn, napi_tsfn_release);
}

/* Queues `o` as Ring.begin would start it; 0 with `e` set when it is refused at once. */
static int enqueue(plane *p, op *o, plane_error *e) {
  pthread_mutex_lock(&p->mu);
  int ok = !p->closing && p->failure.code == E_NONE && (o->kind == OP_JS || !left_error_locked(p, o, e));
  if (p->closing)
    *e = destroyed;
  else if (p->failure.code != E_NONE)
    *e = p->failure;
  if (ok) {
    if (o->seq > p->begun) p->begun = o->seq;
    if (p->queue_tail)
      p->queue_tail->next = o;
    else
      p->queue_head = o;
    p->queue_tail = o;
  }
  pthread_mutex_unlock(&p->mu);
  if (ok) plane_wake(p);
  return ok;
}

static op *op_new(op_kind kind, napi_env env, napi_value seq) {
  op *o = calloc(1, sizeof *o);
  if (!o) return NULL;
  uint32_t s = 0;
  napi_get_value_uint32(env, seq, &s);
  o->kind = kind;
  o->seq = s;
  pthread_cond_init(&o->cond, NULL);
  return o;
}

/* data: any Float32Array (shared or not, any offset); mean: a boolean. */
static int read_data(napi_env env, napi_value data, napi_value mean, op *o) {
  napi_typedarray_type type;
  bool is_typed = false, m = false;
  if (napi_is_typedarray(env, data, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, data, &type, &o->length, (void **)&o->data, NULL, NULL) != napi_ok ||
      type != napi_float32_array) {
    throw_error(env, E_INVALID, -1, "allReduce: data must be a Float32Array");
    return 0;
  }
  napi_get_value_bool(env, mean, &m);
  o->mean = m;
  return 1;
}

/* Runs `o` asynchronously: the promise settles on this thread. */
static napi_value run_async(napi_env env, plane *p, op *o, napi_value data) {
  napi_value promise;
  plane_error e;
  napi_create_promise(env, &o->deferred, &promise);
  if (data) napi_create_reference(env, data, 1, &o->data_ref); /* the memory stays alive */
  make_tsfn(env, NULL, (plane *)p, call_on_op, 1, &o->tsfn);
  if (!enqueue(p, o, &e)) {
    napi_threadsafe_function tsfn = o->tsfn;
    o->error = e;
    napi_call_threadsafe_function(tsfn, o, napi_tsfn_nonblocking);
    napi_release_threadsafe_function(tsfn, napi_tsfn_release);
  }
  return promise;
}

static napi_value all_reduce(napi_env env, napi_callback_info info) {
  ARGS(4);
  plane *p = open_plane(env, argv[0]);
  op *o = p ? op_new(OP_ALLREDUCE, env, argv[1]) : NULL;
  if (!o) return NULL;
  if (!read_data(env, argv[2], argv[3], o)) return op_free(env, o), NULL;
  return run_async(env, p, o, argv[2]);
}

static napi_value barrier(napi_env env, napi_callback_info info) {
  ARGS(2);
  plane *p = open_plane(env, argv[0]);
  op *o = p ? op_new(OP_BARRIER, env, argv[1]) : NULL;
  return o ? run_async(env, p, o, NULL) : NULL;
}

/* Blocks the calling thread until the plane thread has run the op. */
static napi_value all_reduce_sync(napi_env env, napi_callback_info info) {
  ARGS(4);
  plane *p = open_plane(env, argv[0]);
  op *o = p ? op_new(OP_ALLREDUCE, env, argv[1]) : NULL;
  if (!o) return NULL;
  if (!read_data(env, argv[2], argv[3], o)) return op_free(env, o), NULL;
  o->sync = 1;
  plane_error e;
  if (enqueue(p, o, &e)) {
    pthread_mutex_lock(&p->mu);
    while (!o->done) pthread_cond_wait(&o->cond, &p->mu);
    pthread_mutex_unlock(&p->mu);
    e = o->error;
  }
  op_free(env, o);
  if (e.code != E_NONE) napi_throw(env, make_error(env, &e));
  return NULL;
}

static napi_value begin_js(napi_env env, napi_callback_info info) {
  ARGS(2);
  plane *p = open_plane(env, argv[0]);
  op *o = p ? op_new(OP_JS, env, argv[1]) : NULL;
  plane_error e;
  if (o && !enqueue(p, o, &e)) {
    op_free(env, o);
    napi_throw(env, make_error(env, &e));
  }
  return NULL;
}

static napi_value end_js(napi_env env, napi_callback_info info) {
  ARGS(2);
  plane *p = open_plane(env, argv[0]);
  uint32_t seq = 0;
  if (!p) return NULL;
  napi_get_value_uint32(env, argv[1], &seq);
  pthread_mutex_lock(&p->mu);
  if (seq > p->js_ended) p->js_ended = seq;
  pthread_mutex_unlock(&p->mu);
  plane_wake(p);
  return NULL;
}

/* ---- the TypeScript collectives' transport and state ---- */

static int get_bytes(napi_env env, napi_value v, void **data, size_t *length) {
  napi_typedarray_type type;
  bool is_typed = false;
  size_t count;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, v, &type, &count, data, NULL, NULL) != napi_ok || type != napi_uint8_array)
    return 0;
  *length = count;
  return 1;
}

/* Copies header and payload now: the caller may reuse both once send returns. */
static napi_value send_(napi_env env, napi_callback_info info) {
  ARGS(3);
  plane *p = open_plane(env, argv[0]);
  void *head, *body;
  size_t head_len, body_len;
  if (!p) return NULL;
  if (!get_bytes(env, argv[1], &head, &head_len) || head_len != HEADER_BYTES || !get_bytes(env, argv[2], &body, &body_len))
    return throw_error(env, E_INVALID, -1, "send(id, header, payload): a 32-byte Uint8Array header and a Uint8Array payload");
  frame *f = malloc(sizeof *f);
  if (!f || p->z->msg_init_size(&f->payload, body_len) != 0) abort();
  memcpy(&f->h, head, HEADER_BYTES);
  if (body_len) memcpy(p->z->msg_data(&f->payload), body, body_len);
  f->next = NULL;
  pthread_mutex_lock(&p->mu);
  if (p->js_sends.tail)
    p->js_sends.tail->next = f;
  else
    p->js_sends.head = f;
  p->js_sends.tail = f;
  pthread_mutex_unlock(&p->mu);
  plane_wake(p);
  return NULL;
}

static err_code parse_code(const char *s) {
  static const char *const names[] = {"", "MISMATCH", "PEER_DEAD", "TIMEOUT", "DESTROYED", "INVALID", "RENDEZVOUS"};
  for (int c = E_MISMATCH; c <= E_RENDEZVOUS; c++)
    if (!strcmp(s, names[c])) return c;
  return E_NONE;
}

/* The engine saw a failure of its own (a dead peer, ...): no onFailure call back. */
static napi_value fail(napi_env env, napi_callback_info info) {
  ARGS(4);
  plane *p = open_plane(env, argv[0]);
  if (!p) return NULL;
  char code[32];
  size_t len;
  plane_error e = {E_NONE, -1, ""};
  napi_get_value_string_utf8(env, argv[1], code, sizeof code, &len);
  napi_get_value_string_utf8(env, argv[2], e.message, sizeof e.message, &len);
  napi_get_value_int32(env, argv[3], &e.peer);
  if ((e.code = parse_code(code)) == E_NONE)
    return throw_error(env, E_INVALID, -1, "fail(id, code, message, peerRank): code must be a NativeErrorCode");
  plane_fail(p, &e, 0);
  return NULL;
}

static napi_value peer_left(napi_env env, napi_callback_info info) {
  ARGS(3);
  plane *p = open_plane(env, argv[0]);
  int32_t rank = -1;
  int64_t after = 0;
  if (!p) return NULL;
  napi_get_value_int32(env, argv[1], &rank);
  get_int64(env, argv[2], &after);
  if (rank < 0 || rank >= p->o.world) return throw_error(env, E_INVALID, -1, "peerLeft: no such rank");
  pthread_mutex_lock(&p->mu);
  p->left_after[rank] = after;
  pthread_mutex_unlock(&p->mu);
  plane_wake(p); /* the thread fails a running op that needs `rank` */
  return NULL;
}

static napi_value collectives(napi_env env, napi_callback_info info) {
  ARGS(1);
  plane *p = open_plane(env, argv[0]);
  napi_value result;
  if (!p) return NULL;
  pthread_mutex_lock(&p->mu);
  uint32_t begun = p->begun;
  pthread_mutex_unlock(&p->mu);
  napi_create_uint32(env, begun, &result);
  return result;
}

static napi_value stats(napi_env env, napi_callback_info info) {
  ARGS(1);
  plane *p = open_plane(env, argv[0]);
  if (!p) return NULL;
  napi_value result, v;
  napi_create_object(env, &result);
  uint64_t values[3] = {__atomic_load_n(&p->stats.sent, __ATOMIC_RELAXED),
                        __atomic_load_n(&p->stats.received, __ATOMIC_RELAXED),
                        __atomic_load_n(&p->stats.dropped, __ATOMIC_RELAXED)};
  static const char *const names[] = {"messagesSent", "messagesReceived", "dropped"};
  for (int i = 0; i < 3; i++) {
    napi_create_double(env, (double)values[i], &v);
    napi_set_named_property(env, result, names[i], v);
  }
  return result;
}

/* ---- shutdown ---- */

/* Rejects every op DESTROYED and tells the thread to flush for linger_ms and exit. */
static void close_begin(plane *p, int64_t linger_ms) {
  pthread_mutex_lock(&p->mu);
  p->closing = 1;
  p->linger_ms = linger_ms > 0 ? linger_ms : 0;
  plane_fail_locked(p, &destroyed, 0);
  pthread_mutex_unlock(&p->mu);
  plane_wake(p);
}

static void close_finish(plane *p) {
  if (p->thread_started)
    pthread_join(p->thread, NULL);
  else
    plane_finish_unstarted(p);
  if (p->on_frame) napi_release_threadsafe_function(p->on_frame, napi_tsfn_release);
  if (p->on_failure) napi_release_threadsafe_function(p->on_failure, napi_tsfn_release);
  p->closed = 1;
}

typedef struct close_work {
  plane *p;
  napi_deferred deferred;
  napi_async_work work;
} close_work;

static void close_execute(napi_env env, void *data) {
  close_finish(((close_work *)data)->p);
}

static void close_complete(napi_env env, napi_status status, void *data) {
  close_work *w = data;
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  napi_resolve_deferred(env, w->deferred, undefined);
  napi_delete_async_work(env, w->work);
  free(w);
}

/* The join runs on libuv's pool: the promise resolves once the thread has exited. */
static napi_value close_(napi_env env, napi_callback_info info) {
  ARGS(2);
  plane *p = open_plane(env, argv[0]);
  int64_t linger = 0;
  close_work *w = p ? calloc(1, sizeof *w) : NULL;
  if (!w) return NULL;
  get_int64(env, argv[1], &linger);
  close_begin(p, linger);
  napi_value promise, name;
  w->p = p;
  napi_create_promise(env, &w->deferred, &promise);
  napi_create_string_utf8(env, "yolo-comm-native-close", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, close_execute, close_complete, w, &w->work);
  napi_queue_async_work(env, w->work);
  return promise;
}

static napi_value close_sync(napi_env env, napi_callback_info info) {
  ARGS(2);
  plane *p = open_plane(env, argv[0]);
  int64_t linger = 0;
  if (!p) return NULL;
  get_int64(env, argv[1], &linger);
  close_begin(p, linger);
  close_finish(p);
  return NULL;
}

#define FN(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      FN("create", create),           FN("bind", bind_),          FN("connect", connect_),
      FN("start", start),             FN("allReduce", all_reduce), FN("allReduceSync", all_reduce_sync),
      FN("barrier", barrier),         FN("beginJs", begin_js),    FN("endJs", end_js),
      FN("send", send_),              FN("fail", fail),           FN("peerLeft", peer_left),
      FN("collectives", collectives), FN("stats", stats),         FN("close", close_),
      FN("closeSync", close_sync),
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
