// glibc malloc settings for processes that run a process group.
//
// zeromq allocates every received message of more than 8 KiB with malloc in its I/O thread,
// and V8 frees it (another thread) when the JS Buffer is collected. With glibc's defaults
// (dynamic mmap threshold, trim threshold twice that) those megabyte-sized blocks keep going
// back to the kernel (munmap, heap trims) and every new message page-faults its memory in
// again: in a perf profile of 1 MB all-reduces that was the largest single cost of the I/O
// thread, and the first two settings below cut CPU per all-reduce by 10-30% here (README).
// gloo never pays this: it receives straight into the tensor.
//
// Issue 16, session 5: with the defaults zeromq's I/O thread mallocs from a thread arena, whose
// 64 MiB heaps glibc unmaps as soon as one is entirely free; at 256 MB all-reduces (more than
// 64 MiB of received buffers outstanding between two GCs) every call faulted tens of MB back
// in. One arena (the main, sbrk heap, trimmed only past the threshold) and a 1 GiB threshold
// keep it mapped: CPU per 256 MB world-4 all-reduce 1044-1127 ms -> 397 ms (README).
//
// glibc reads these at process start, so the launcher puts them into every worker's
// environment (a user's own value wins); other C libraries ignore them.
export const ALLOCATOR_ENV: Readonly<Record<string, string>> = {
  /** Blocks up to 32 MiB (every ring segment) come from the heap, not from fresh mmaps. */
  MALLOC_MMAP_THRESHOLD_: String(32 * 1024 * 1024),
  /**
   * Keep up to 1 GiB of free heap instead of trimming it after each burst of frees: a 256 MB
   * all-reduce has more than 128 MiB of received buffers waiting for the GC at its peaks.
   */
  MALLOC_TRIM_THRESHOLD_: String(1024 * 1024 * 1024),
  /** One arena: the I/O thread's buffers come from the sbrk heap, which is only ever trimmed. */
  MALLOC_ARENA_MAX: '1',
};
