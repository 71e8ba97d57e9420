/* The plane thread: one per plane, the only user of its sockets once started. It polls the
 * PULL socket, the PUSH socket (only while sends are pending: a send never blocks the thread,
 * since a blocked send while the peers block too is a deadlock) and an eventfd that wakes it
 * when JS queues an op or a send, fails the plane or closes it. Ops run one at a time in queue
 * order; received messages go to the running op, or wait in `held` for the op of their seq. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "plane.h"

void mismatch_error(const plane *p, const op *o, const header *h, plane_error *e);
void op_complete_locked(plane *p, op *o, const plane_error *e); /* addon.c */
void start_settle(plane *p, const plane_error *e);              /* addon.c */
void notify_failure(plane *p, const plane_error *e);             /* addon.c */
void deliver_js_frame(plane *p, frame *f);                       /* addon.c */

#define RECEIVE_BATCH 256

int64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

const char *err_code_name(err_code code) {
  static const char *const names[] = {"", "MISMATCH", "PEER_DEAD", "TIMEOUT", "DESTROYED", "INVALID", "RENDEZVOUS"};
  return names[code];
}

void plane_wake(plane *p) {
  uint64_t one = 1;
  ssize_t ignored = write(p->wake_fd, &one, sizeof one);
  (void)ignored;
}

/* ---- frames ---- */

static void fifo_push(frame_fifo *q, frame *f) {
  f->next = NULL;
  if (q->tail)
    q->tail->next = f;
  else
    q->head = f;
  q->tail = f;
}

static frame *fifo_pop(frame_fifo *q) {
  frame *f = q->head;
  if (f && !(q->head = f->next)) q->tail = NULL;
  return f;
}

static void frame_free(plane *p, frame *f) {
  p->z->msg_close(&f->payload);
  free(f);
}

static frame *frame_new(const header *h) {
  frame *f = malloc(sizeof *f);
  if (!f) abort();
  f->h = *h;
  return f;
}

/* Queues a message on the outgoing FIFO (thread only); takes ownership of `payload`. */
void plane_send(plane *p, const header *h, zmq_msg_t *payload) {
  frame *f = frame_new(h);
  p->z->msg_init(&f->payload);
  p->z->msg_move(&f->payload, payload);
  fifo_push(&p->out, f);
}

/* Zero copy: only for memory nobody writes before the next rank received it (ring.ts). */
void plane_send_view(plane *p, const header *h, const void *data, size_t bytes) {
  frame *f = frame_new(h);
  p->z->msg_init_data(&f->payload, (void *)data, bytes, NULL, NULL);
  fifo_push(&p->out, f);
}

void plane_send_copy(plane *p, const header *h, const void *data, size_t bytes) {
  frame *f = frame_new(h);
  if (p->z->msg_init_size(&f->payload, bytes) != 0) abort();
  if (bytes) memcpy(p->z->msg_data(&f->payload), data, bytes);
  fifo_push(&p->out, f);
}

/* ---- failure ---- */

/* Fails the plane once: every queued op rejects now; the running one when the thread sees it. */
void plane_fail_locked(plane *p, const plane_error *e, int notify) {
  if (p->failure.code != E_NONE) return;
  p->failure = *e;
  for (op *o = p->queue_head, *next; o; o = next) {
    next = o->next;
    if (o->kind == OP_JS)
      free(o);
    else
      op_complete_locked(p, o, e);
  }
  p->queue_head = p->queue_tail = NULL;
  if (notify) notify_failure(p, e);
  plane_wake(p);
}

void plane_fail(plane *p, const plane_error *e, int notify) {
  pthread_mutex_lock(&p->mu);
  plane_fail_locked(p, e, notify);
  pthread_mutex_unlock(&p->mu);
}

static void fail_send(plane *p) {
  int next = (p->o.rank + 1) % p->o.world;
  plane_error e = {E_PEER_DEAD, next, ""};
  snprintf(e.message, sizeof e.message, "sending to rank %d failed: %s", next, p->z->strerror(p->z->errno_()));
  plane_fail(p, &e, 1);
}

/* ---- sending ---- */

/* Hands queued messages to zeromq until its queue is full; 0 ok, -1 on a zmq error. */
static int flush_out(plane *p) {
  const zmq_api *z = p->z;
  frame *f;
  while ((f = p->out.head)) {
    zmq_msg_t head;
    z->msg_init_size(&head, HEADER_BYTES);
    memcpy(z->msg_data(&head), &f->h, HEADER_BYTES); /* little-endian words, as wire.ts */
    if (z->msg_send(&head, p->push, ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0) {
      int err = z->errno_();
      z->msg_close(&head);
      if (err == EAGAIN || err == EINTR) return 0;
      return -1;
    }
    /* Once the first part is accepted zeromq takes the rest of the message without waiting. */
    if (z->msg_send(&f->payload, p->push, 0) < 0) return -1;
    fifo_pop(&p->out);
    frame_free(p, f);
    __atomic_add_fetch(&p->stats.sent, 1, __ATOMIC_RELAXED);
  }
  return 0;
}

/* ---- receiving ---- */

/* One whole message from the PULL socket; NULL when none is ready or it is not ours (dropped). */
static frame *receive_one(plane *p, int *ready) {
  const zmq_api *z = p->z;
  zmq_msg_t part;
  z->msg_init(&part);
  *ready = z->msg_recv(&part, p->pull, ZMQ_DONTWAIT) >= 0;
  if (!*ready) {
    z->msg_close(&part);
    return NULL;
  }
  frame *f = frame_new(&(header){0});
  z->msg_init(&f->payload);
  int parts = 1, good = z->msg_size(&part) == HEADER_BYTES;
  if (good) memcpy(&f->h, z->msg_data(&part), HEADER_BYTES);
  /* The rest of a multi-part message is already here: zeromq delivers messages whole. */
  while (z->msg_more(&part)) {
    z->msg_close(&part);
    z->msg_init(&part);
    if (z->msg_recv(&part, p->pull, 0) < 0) break;
    if (++parts == 2) z->msg_move(&f->payload, &part);
  }
  z->msg_close(&part);
  if (parts != 2 || !good || f->h.session != p->o.session) {
    frame_free(p, f);
    __atomic_add_fetch(&p->stats.dropped, 1, __ATOMIC_RELAXED);
    return NULL;
  }
  __atomic_add_fetch(&p->stats.received, 1, __ATOMIC_RELAXED);
  return f;
}

/* ---- ops ---- */

static void finish_running(plane *p, const plane_error *e) {
  op *o = p->running;
  p->running = NULL;
  if (o->kind == OP_JS) {
    free(o);
    return;
  }
  pthread_mutex_lock(&p->mu);
  op_complete_locked(p, o, e);
  pthread_mutex_unlock(&p->mu);
}

/* A frame of the running op's seq: a native op consumes it, a JS op's goes to onFrame. */
static void deliver(plane *p, frame *f) {
  op *o = p->running;
  if (o->kind == OP_JS) {
    deliver_js_frame(p, f);
    return;
  }
  int done = coll_consume(p, o, f);
  frame_free(p, f);
  if (done == 1) finish_running(p, NULL);
}

static void route(plane *p, frame *f) {
  op *o = p->running;
  if (p->failure.code != E_NONE) { /* a failed plane runs nothing more */
    frame_free(p, f);
    return;
  }
  if (p->hello_pending && f->h.kind == KIND_HELLO && f->h.seq == 0) {
    p->hello_pending = 0;
    frame_free(p, f);
    start_settle(p, NULL);
  } else if (o && f->h.seq == o->seq) {
    deliver(p, f);
  } else if (!o || f->h.seq > o->seq) {
    fifo_push(&p->held, f);
  } else {
    plane_error e;
    mismatch_error(p, o, &f->h, &e);
    frame_free(p, f);
    plane_fail(p, &e, 1);
  }
}

int left_error_locked(plane *p, const op *o, plane_error *e) {
  for (int r = 0; r < p->o.world; r++)
    if (p->left_after[r] >= 0 && o->seq > p->left_after[r]) {
      e->code = E_PEER_DEAD;
      e->peer = r;
      snprintf(e->message, sizeof e->message,
               "rank %d left the process group (destroy()) after %lld collectives; this rank's collective #%u "
               "(%s) needs it",
               r, (long long)p->left_after[r], o->seq, op_name(o));
      return 1;
    }
  return 0;
}

/* The held frames of the new op's seq, in arrival order; an older seq is a mismatch. */
static void consume_held(plane *p) {
  frame_fifo keep = {NULL, NULL};
  frame *f;
  while ((f = fifo_pop(&p->held))) {
    if (p->running && p->failure.code == E_NONE && f->h.seq <= p->running->seq)
      route(p, f);
    else
      fifo_push(&keep, f);
  }
  /* route() may have held nothing new: `held` is empty here, so keep's order stands. */
  while ((f = fifo_pop(&p->held))) fifo_push(&keep, f);
  p->held = keep;
}

/* Starts queued ops until one is running (or the queue is empty). */
static void start_next(plane *p) {
  while (!p->running && !p->hello_pending) {
    pthread_mutex_lock(&p->mu);
    op *o = p->queue_head;
    if (o && !(p->queue_head = o->next)) p->queue_tail = NULL;
    plane_error e;
    int left = o && o->kind != OP_JS && left_error_locked(p, o, &e);
    if (left) op_complete_locked(p, o, &e); /* rejects without failing the plane, as Ring.begin */
    pthread_mutex_unlock(&p->mu);
    if (!o) return;
    if (left) continue;
    p->running = o;
    p->started_seq = o->seq;
    o->deadline_ms = p->o.timeout_ms > 0 && o->kind != OP_JS ? now_ms() + p->o.timeout_ms : 0;
    if (o->kind != OP_JS && coll_begin(p, o) == 1) {
      finish_running(p, NULL);
      continue;
    }
    consume_held(p);
  }
}

/* Applies what JS asked for since the last turn; 1 when the plane is closing. */
static int take_commands(plane *p) {
  pthread_mutex_lock(&p->mu);
  /* A TS collective's messages leave only once the thread has reached it: the engine may run
   * it while an earlier native collective is still going, and a TS peer (ring.ts) takes
   * messages strictly in order. (The engine runs TS collectives one at a time, so the queue's
   * seqs never decrease.) */
  while (p->js_sends.head && p->js_sends.head->h.seq <= p->started_seq) fifo_push(&p->out, fifo_pop(&p->js_sends));
  plane_error failure = p->failure;
  int closing = p->closing;
  int js_done = p->running && p->running->kind == OP_JS && p->running->seq <= p->js_ended;
  /* Ring.peerLeft: a running collective that needs a rank that left fails the plane. */
  plane_error left;
  if (p->running && failure.code == E_NONE && left_error_locked(p, p->running, &left)) {
    plane_fail_locked(p, &left, 0);
    failure = left;
  }
  pthread_mutex_unlock(&p->mu);
  if (js_done) finish_running(p, NULL);
  if (failure.code != E_NONE) {
    if (p->running) finish_running(p, &failure);
    if (p->hello_pending) {
      p->hello_pending = 0;
      start_settle(p, &failure);
    }
  }
  return closing;
}

static void check_deadline(plane *p) {
  op *o = p->running;
  if (!o || !o->deadline_ms || now_ms() < o->deadline_ms) return;
  plane_error e = {E_TIMEOUT, -1, ""};
  snprintf(e.message, sizeof e.message,
           "%s did not complete within timeoutMs=%lld; the process group is unusable now", op_name(o),
           (long long)p->o.timeout_ms);
  plane_fail(p, &e, 1);
}

static long poll_timeout(plane *p) {
  if (!p->running || !p->running->deadline_ms) return -1;
  int64_t left = p->running->deadline_ms - now_ms();
  return left > 0 ? (long)left : 0;
}

static void wait_events(plane *p) {
  zmq_pollitem_t items[3] = {
      {p->pull, 0, ZMQ_POLLIN, 0},
      {NULL, p->wake_fd, ZMQ_POLLIN, 0},
      {p->push, 0, ZMQ_POLLOUT, 0},
  };
  p->z->poll(items, p->out.head ? 3 : 2, poll_timeout(p));
  if (items[1].revents) {
    uint64_t count;
    ssize_t ignored = read(p->wake_fd, &count, sizeof count);
    (void)ignored;
  }
}

static void receive_ready(plane *p) {
  for (int i = 0, ready = 1; i < RECEIVE_BATCH && ready; i++) {
    frame *f = receive_one(p, &ready);
    if (!f) continue;
    route(p, f);
    if (p->failure.code == E_NONE) start_next(p);
  }
}

/* ---- shutdown ---- */

static void drop_fifo(plane *p, frame_fifo *q) {
  frame *f;
  while ((f = fifo_pop(q))) frame_free(p, f);
}

/* Flushes for up to linger_ms, closes the sockets and the context. */
static void shut_down(plane *p) {
  int64_t until = now_ms() + p->linger_ms;
  while (p->out.head && flush_out(p) == 0 && p->out.head && now_ms() < until) {
    zmq_pollitem_t item = {p->push, 0, ZMQ_POLLOUT, 0};
    p->z->poll(&item, 1, (long)(until - now_ms()));
  }
  int linger = (int)p->linger_ms, zero = 0;
  p->z->setsockopt(p->push, ZMQ_LINGER, &linger, sizeof linger);
  p->z->setsockopt(p->pull, ZMQ_LINGER, &zero, sizeof zero);
  drop_fifo(p, &p->out);
  drop_fifo(p, &p->held);
  pthread_mutex_lock(&p->mu);
  drop_fifo(p, &p->js_sends);
  pthread_mutex_unlock(&p->mu);
  p->z->close(p->push);
  p->z->close(p->pull);
  scratch_release(p);
  p->z->ctx_term(p->ctx);
  close(p->wake_fd);
}

void plane_finish_unstarted(plane *p) {
  shut_down(p);
}

/* A queued op could start now (nothing runs, the hello is done, the plane is usable). */
static int can_start(plane *p) {
  pthread_mutex_lock(&p->mu);
  int ready = p->failure.code == E_NONE && !p->running && !p->hello_pending && p->queue_head != NULL;
  pthread_mutex_unlock(&p->mu);
  return ready;
}

void *plane_thread(void *arg) {
  plane *p = arg;
  header hello = {p->o.session, 0, KIND_HELLO, 0, 0, (uint32_t)p->o.rank, 0, 0};
  plane_send_copy(p, &hello, NULL, 0);
  p->hello_pending = 1;
  while (!take_commands(p)) {
    if (flush_out(p) < 0) fail_send(p);
    if (p->failure.code == E_NONE) start_next(p);
    receive_ready(p);
    check_deadline(p);
    if (flush_out(p) < 0) fail_send(p);
    if (take_commands(p)) break;
    if (can_start(p)) continue; /* take_commands just ended a TS collective: no event will come */
    wait_events(p);
  }
  shut_down(p);
  return NULL;
}
