/* The native data plane: one thread per plane owns the ring's PUSH (to rank+1) and PULL (from
 * rank-1) sockets, runs the float32 all-reduce and the barrier (collectives.c) and carries the
 * TypeScript collectives' frames (see README "Native data plane"). */
#ifndef YOLO_COMM_PLANE_H
#define YOLO_COMM_PLANE_H

#include <node_api.h>
#include <pthread.h>
#include <stdint.h>

#include "zmq-api.h"

#define HEADER_BYTES 32
enum { KIND_HELLO = 0, KIND_RS = 1, KIND_AG = 2, KIND_GATHER = 4, KIND_SMALL = 6 };

/* Closed set of error codes (NativeErrorCode in src/native.ts). */
typedef enum { E_NONE = 0, E_MISMATCH, E_PEER_DEAD, E_TIMEOUT, E_DESTROYED, E_INVALID, E_RENDEZVOUS } err_code;

typedef struct plane_error {
  err_code code;
  int peer; /* -1: none */
  char message[600];
} plane_error;

typedef struct header {
  uint32_t session, seq, kind, step, index, origin, total, offset;
} header;

/* A received 2-frame message (or one to send): header words and the payload as a zmq_msg. */
typedef struct frame {
  struct frame *next;
  header h;
  zmq_msg_t payload;
} frame;

typedef struct frame_fifo {
  frame *head, *tail;
} frame_fifo;

typedef enum { OP_ALLREDUCE, OP_BARRIER, OP_JS } op_kind;

/* Progress of a running collective, advanced one received message at a time. */
typedef struct op_state {
  int phase; /* all-reduce: 0 reduce-scatter, 1 all-gather */
  int s;     /* step */
  uint32_t k;
  size_t a, b, o, seg; /* all-reduce: chunk [a, b), segment start o, segment elements */
  int64_t total;       /* gather: blob bytes (-1 before its first segment) */
  size_t got;
  float *blobs; /* small all-reduce: n blobs of L floats */
} op_state;

typedef struct op {
  struct op *next;
  op_kind kind;
  uint32_t seq;
  float *data;
  size_t length;
  int mean;
  int64_t deadline_ms;
  op_state st;
  /* completion: sync ops wait on `cond`; async ones resolve `deferred` through `tsfn` */
  int sync, done;
  pthread_cond_t cond;
  napi_threadsafe_function tsfn;
  napi_deferred deferred;
  napi_ref data_ref;
  plane_error error;
} op;

typedef struct plane_options {
  int rank, world;
  uint32_t session;
  int64_t segment_bytes, min_segment_bytes, small_max_bytes;
  int high_water_mark, socket_buffer_bytes;
  int64_t max_message_bytes, timeout_ms;
} plane_options;

typedef struct plane_stats {
  uint64_t sent, received, dropped;
} plane_stats;

typedef struct plane {
  int id;
  plane_options o;
  const zmq_api *z;
  void *ctx, *push, *pull;
  int wake_fd;
  pthread_t thread;
  int thread_started;
  napi_env env; /* where create was called (cleanup hook) */

  pthread_mutex_t mu; /* guards everything down to `stats` */
  op *queue_head, *queue_tail;
  frame_fifo js_sends;
  plane_error failure; /* code E_NONE while the plane is usable */
  int closing, closed;
  int64_t linger_ms;
  int64_t *left_after; /* per rank; -1: still in the group */
  uint32_t begun;      /* highest seq begun */
  uint32_t js_ended;   /* highest seq endJs was called for */
  plane_stats stats;

  /* thread-only */
  op *running;
  uint32_t started_seq; /* seq of the last op started (its TS messages may leave) */
  frame_fifo out, held;
  int hello_pending;
  napi_threadsafe_function on_frame, on_failure, on_start;
  napi_deferred start_deferred;
  struct scratch *owner_scratch;
} plane;

/* plane.c */
int64_t now_ms(void);
void plane_wake(plane *p);
void plane_send(plane *p, const header *h, zmq_msg_t *payload); /* takes the msg */
void plane_send_view(plane *p, const header *h, const void *data, size_t bytes);
void plane_send_copy(plane *p, const header *h, const void *data, size_t bytes);
void plane_fail_locked(plane *p, const plane_error *e, int notify);
void plane_fail(plane *p, const plane_error *e, int notify);
void *plane_thread(void *arg);
const char *err_code_name(err_code code);
void plane_finish_unstarted(plane *p);
int left_error_locked(plane *p, const op *o, plane_error *e);

/* collectives.c: 0 on success, 1 done, -1 failed (the plane is failed) */
int coll_begin(plane *p, op *o);
int coll_consume(plane *p, op *o, frame *f);
const char *op_name(const op *o);
void coll_expected(const op *o, uint32_t *step, uint32_t *index);
/* the owner scratch (refcounted: zeromq may hold a sent region after we grew it) */
void *scratch_region(plane *p, size_t at, size_t bytes, size_t chunk_bytes, zmq_msg_t *msg);
void scratch_release(plane *p);

#endif
