/* The float32 all-reduce (ring and small) and the barrier, ported from src/ring.ts message for
 * message: same headers, same segments, same order of additions, so a native rank and a
 * TypeScript rank interoperate and every rank ends with the same bits. Each collective is a
 * state machine fed one received message at a time by the plane thread (plane.c). */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plane.h"

/* Received payloads may sit at any byte offset in zeromq's receive buffer. */
typedef float float_u __attribute__((aligned(1), may_alias));

static const char *const KIND_NAMES[] = {
    NULL,
    "allReduce",
    "allReduce",
    "broadcast",
    "allGather/barrier",
    "allReduce (fence)",
    "allReduce (small)",
    "allReduce (fp16 wire)",
    "allReduce (fp16 wire)",
    "allReduce (bf16 wire)",
    "allReduce (bf16 wire)",
};

const char *op_name(const op *o) {
  return o->kind == OP_ALLREDUCE ? "allReduce" : o->kind == OP_BARRIER ? "barrier" : "collective";
}

static int is_small(const plane *p, const op *o) {
  return o->kind == OP_ALLREDUCE && (int64_t)o->length * 4 <= p->o.small_max_bytes;
}

void coll_expected(const op *o, uint32_t *step, uint32_t *index) {
  *step = o->kind == OP_ALLREDUCE && o->st.seg ? (uint32_t)o->st.s : 0;
  *index = o->st.k;
}

/* Ring.expect's error, for a message `h` that op `o` cannot take. */
void mismatch_error(const plane *p, const op *o, const header *h, plane_error *e) {
  int n = p->o.world, from = (p->o.rank - 1 + n) % n;
  uint32_t step, index;
  char kind[32];
  coll_expected(o, &step, &index);
  if (h->kind < sizeof KIND_NAMES / sizeof KIND_NAMES[0] && KIND_NAMES[h->kind])
    snprintf(kind, sizeof kind, "%s", KIND_NAMES[h->kind]);
  else
    snprintf(kind, sizeof kind, "kind %u", h->kind);
  e->code = E_MISMATCH;
  e->peer = from;
  snprintf(e->message, sizeof e->message,
           "collective mismatch: rank %d sent %s #%u (step %u, segment %u) while rank %d is in %s #%u "
           "(step %u, segment %u); every rank must call the same collectives in the same order",
           from, kind, h->seq, h->step, h->index, p->o.rank, op_name(o), o->seq, step, index);
}

static int fail_with(plane *p, plane_error *e) {
  plane_fail(p, e, 1);
  return -1;
}

static int size_mismatch(plane *p, const char *what, size_t got, size_t want) {
  plane_error e = {E_MISMATCH, -1, ""};
  snprintf(e.message, sizeof e.message,
           "%s: received %zu bytes where rank %d expected %zu; every rank must pass buffers of the same length",
           what, got, p->o.rank, want);
  return fail_with(p, &e);
}

static int expect(plane *p, op *o, const header *h, uint32_t kind, uint32_t step, uint32_t index) {
  if (h->seq == o->seq && h->kind == kind && h->step == step && h->index == index) return 0;
  plane_error e;
  mismatch_error(p, o, h, &e);
  return fail_with(p, &e);
}

/* ---- reduction: the JS arithmetic (reduce.ts), written so that gcc vectorises it ---- */

static void add_in_place(float *restrict a, const float_u *restrict b, size_t n) {
  for (size_t i = 0; i < n; i++) a[i] = a[i] + b[i];
}

/* a = fround(a + b) / d: the float sum first, then JS's double division. */
static void add_div_in_place(float *restrict a, const float_u *restrict b, size_t n, double d) {
  for (size_t i = 0; i < n; i++) a[i] = (float)((double)(a[i] + b[i]) / d);
}

/* ---- ring all-reduce (Ring.allReduceBody) ---- */

static size_t chunk_start(size_t c, size_t L, int n) {
  return c >= (size_t)n ? L : 4 * (size_t)floor((double)c * (double)L / (4.0 * n));
}

static size_t segment_elements(const plane *p, size_t L) {
  double adaptive = pow(2, ceil(log2((double)L * 4 / p->o.world / 8)));
  double bytes = fmin((double)p->o.segment_bytes, fmax((double)p->o.min_segment_bytes, adaptive));
  return (size_t)bytes >> 2;
}

static header ar_header(const plane *p, const op *o, uint32_t kind, uint32_t step, uint32_t k) {
  const op_state *st = &o->st;
  header h = {p->o.session, o->seq, kind, step, k, (uint32_t)p->o.rank, (uint32_t)((st->b - st->a) * 4),
              (uint32_t)((st->o - st->a) * 4)};
  return h;
}

static void ar_enter_step(plane *p, op *o) {
  int n = p->o.world, r = p->o.rank;
  int c = (((o->st.phase ? r - o->st.s : r - o->st.s - 1) % n) + n) % n;
  o->st.a = chunk_start(c, o->length, n);
  o->st.b = chunk_start(c + 1, o->length, n);
  o->st.o = o->st.a;
  o->st.k = 0;
}

/* Moves to the next expected segment; 1 when the all-reduce is complete. */
static int ar_advance(plane *p, op *o) {
  op_state *st = &o->st;
  st->o += st->seg;
  st->k++;
  while (st->o >= st->b) {
    if (++st->s == p->o.world - 1) {
      if (st->phase == 1) return 1;
      st->phase = 1;
      st->s = 0;
    }
    ar_enter_step(p, o);
  }
  return 0;
}

static int ar_begin(plane *p, op *o) {
  op_state *st = &o->st;
  st->seg = segment_elements(p, o->length);
  /* Step 0: our own chunk goes out as views of the caller's data, untouched. Its sum comes
   * back to us in the all-gather phase, so the next rank has read it before we return. */
  st->phase = 1; /* chunk r */
  st->s = 0;
  ar_enter_step(p, o);
  for (; st->o < st->b; st->k++, st->o += st->seg) {
    size_t e = st->o + st->seg < st->b ? st->o + st->seg : st->b;
    header h = ar_header(p, o, KIND_RS, 0, st->k);
    plane_send_view(p, &h, o->data + st->o, (e - st->o) * 4);
  }
  st->phase = 0;
  ar_enter_step(p, o);
  while (st->o >= st->b) /* an empty chunk (never for L > smallAllReduceMaxBytes / 4 >= n) */
    if (ar_advance(p, o)) return 1;
  return 0;
}

static void ar_reduce_step(plane *p, op *o, const float_u *src, size_t e) {
  op_state *st = &o->st;
  int owner = st->s == p->o.world - 2; /* after this step chunk c is complete here */
  if (owner && o->mean)
    add_div_in_place(o->data + st->o, src, e - st->o, p->o.world);
  else
    add_in_place(o->data + st->o, src, e - st->o);
  if (owner) {
    /* The final sum travels on unchanged and nothing we receive depends on it: it leaves from
     * the owner scratch (see src/owner-scratch.ts), so the caller may reuse its data at once. */
    header h = ar_header(p, o, KIND_AG, 0, st->k);
    zmq_msg_t m;
    void *dst = scratch_region(p, (st->o - st->a) * 4, (e - st->o) * 4, (st->b - st->a) * 4, &m);
    memcpy(dst, o->data + st->o, (e - st->o) * 4);
    plane_send(p, &h, &m);
  } else {
    header h = ar_header(p, o, KIND_RS, st->s + 1, st->k);
    plane_send_view(p, &h, o->data + st->o, (e - st->o) * 4);
  }
}

static int ar_consume(plane *p, op *o, frame *f) {
  op_state *st = &o->st;
  size_t e = st->o + st->seg < st->b ? st->o + st->seg : st->b;
  size_t len = p->z->msg_size(&f->payload);
  if (expect(p, o, &f->h, st->phase ? KIND_AG : KIND_RS, st->s, st->k)) return -1;
  if (len != (e - st->o) * 4) return size_mismatch(p, "allReduce", len, (e - st->o) * 4);
  const float_u *src = p->z->msg_data(&f->payload);
  if (st->phase == 0) {
    ar_reduce_step(p, o, src, e);
  } else {
    memcpy(o->data + st->o, src, len);
    if (st->s < p->o.world - 2) { /* forwarded as received: zeromq owns the bytes */
      header h = ar_header(p, o, KIND_AG, st->s + 1, st->k);
      plane_send(p, &h, &f->payload);
    }
  }
  return ar_advance(p, o);
}

/* ---- gather: the small all-reduce and the barrier (Ring.gatherBody) ---- */

static uint32_t gather_kind(const op *o) {
  return o->kind == OP_BARRIER ? KIND_GATHER : KIND_SMALL;
}

static int gather_begin(plane *p, op *o) {
  int n = p->o.world;
  size_t total = o->length * 4, seg = (size_t)p->o.segment_bytes;
  size_t segs = total ? (total + seg - 1) / seg : 1;
  if (o->kind == OP_ALLREDUCE) {
    o->st.blobs = malloc(total * n);
    if (!o->st.blobs) abort();
    memcpy(o->st.blobs + (size_t)p->o.rank * o->length, o->data, total);
  }
  for (size_t k = 0; k < segs; k++) {
    size_t off = k * seg, e = off + seg < total ? off + seg : total;
    header h = {p->o.session, o->seq, gather_kind(o), 0, (uint32_t)k, (uint32_t)p->o.rank, (uint32_t)total,
                (uint32_t)off};
    /* A copy: nothing this rank receives depends on its own blob arriving. */
    plane_send_copy(p, &h, (const char *)o->data + off, e - off);
  }
  o->st.s = 0;
  o->st.total = -1;
  return 0;
}

/* acc = blob[0] + blob[1] + ... in rank order, then the mean: the same bits on every rank. */
static void small_finish(plane *p, op *o) {
  int n = p->o.world;
  size_t L = o->length;
  float *acc = o->st.blobs;
  for (int r = 1; r < n; r++) add_in_place(acc, o->st.blobs + (size_t)r * L, L);
  if (o->mean)
    for (size_t i = 0; i < L; i++) acc[i] = (float)((double)acc[i] / n);
  memcpy(o->data, acc, L * 4);
  free(o->st.blobs);
  o->st.blobs = NULL;
}

static int gather_check(plane *p, op *o, const header *h, int origin, size_t len) {
  if ((int)h->origin != origin || h->offset != o->st.got) {
    plane_error e = {E_MISMATCH, -1, ""};
    snprintf(e.message, sizeof e.message,
             "%s: expected data of rank %d at offset %zu, got rank %u at %u; every rank must call the same "
             "collectives with the same root",
             op_name(o), origin, o->st.got, h->origin, h->offset);
    return fail_with(p, &e);
  }
  size_t want = o->kind == OP_BARRIER ? 0 : o->length * 4;
  if (o->st.total < 0 && h->total != want) return size_mismatch(p, op_name(o), h->total, want);
  if (o->st.got + len > want) return size_mismatch(p, op_name(o), o->st.got + len, want);
  return 0;
}

static int gather_consume(plane *p, op *o, frame *f) {
  int n = p->o.world, origin = (p->o.rank - o->st.s - 1 + n) % n;
  size_t len = p->z->msg_size(&f->payload);
  if (expect(p, o, &f->h, gather_kind(o), 0, o->st.k) || gather_check(p, o, &f->h, origin, len)) return -1;
  o->st.total = f->h.total;
  if (len) memcpy((char *)(o->st.blobs + (size_t)origin * o->length) + o->st.got, p->z->msg_data(&f->payload), len);
  if (o->st.s < n - 2) plane_send(p, &f->h, &f->payload); /* forwarded as received */
  o->st.got += len;
  o->st.k++;
  if (o->st.got < (size_t)o->st.total) return 0;
  o->st.got = 0;
  o->st.k = 0;
  o->st.total = -1;
  if (++o->st.s < n - 1) return 0;
  if (o->kind == OP_ALLREDUCE) small_finish(p, o);
  return 1;
}

/* ---- entry points ---- */

int coll_begin(plane *p, op *o) {
  if (p->o.world == 1 || (o->kind == OP_ALLREDUCE && o->length == 0)) return 1;
  return is_small(p, o) || o->kind == OP_BARRIER ? gather_begin(p, o) : ar_begin(p, o);
}

int coll_consume(plane *p, op *o, frame *f) {
  return o->st.seg ? ar_consume(p, o, f) : gather_consume(p, o, f);
}

/* ---- the owner scratch ---- */

typedef struct scratch {
  atomic_int refs; /* the plane's + one per message zeromq still holds */
  size_t bytes;
  char data[];
} scratch;

static void scratch_unref(void *data, void *hint) {
  scratch *s = hint;
  if (atomic_fetch_sub(&s->refs, 1) == 1) free(s);
}

/* Allocated once per chunk size and reused without a wait (owner-scratch.ts's proof); a
 * smaller one still queued in zeromq is freed when zeromq lets go of its last message. */
void *scratch_region(plane *p, size_t at, size_t bytes, size_t chunk_bytes, zmq_msg_t *msg) {
  scratch *s = p->owner_scratch;
  if (!s || s->bytes < at + bytes) {
    scratch_release(p);
    size_t size = at + bytes > chunk_bytes ? at + bytes : chunk_bytes;
    s = malloc(sizeof *s + size);
    if (!s) abort();
    atomic_init(&s->refs, 1);
    s->bytes = size;
    p->owner_scratch = s;
  }
  atomic_fetch_add(&s->refs, 1);
  if (p->z->msg_init_data(msg, s->data + at, bytes, scratch_unref, s) != 0) abort();
  return s->data + at;
}

void scratch_release(plane *p) {
  if (p->owner_scratch) scratch_unref(NULL, p->owner_scratch);
  p->owner_scratch = NULL;
}
