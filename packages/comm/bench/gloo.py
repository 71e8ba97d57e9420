# gloo's figures for the same benchmark as bench-rank.ts (barrier-synchronised, max over
# ranks per iteration), one thread per rank. Run by bench/run.ts when torch is installed.
import json, os, sys, time
import torch
import torch.distributed as dist

torch.set_num_threads(1)
dist.init_process_group('gloo', init_method='env://')
rank, world = dist.get_rank(), dist.get_world_size()
sizes = [int(s) for s in os.environ['BENCH_SIZES'].split(',')]

def iters_for(b):
    if os.environ.get('BENCH_ITERS'):
        return int(os.environ['BENCH_ITERS'])
    return 200 if b <= 65536 else 50 if b <= 1 << 20 else 15 if b <= 64 << 20 else 10

out = {}
for b in sizes:
    t = torch.full((b // 4,), 1.0 / world, dtype=torch.float32)
    times = []
    cpu0 = time.process_time()
    for i in range(3 + iters_for(b)):
        if i == 3:
            cpu0 = time.process_time()  # CPU of every thread of this process, as in bench-rank.ts
        dist.barrier()
        t0 = time.perf_counter()
        dist.all_reduce(t)
        dt = (time.perf_counter() - t0) * 1e3
        if i >= 3:
            times.append(dt)
    out['allreduce:%d' % b] = times
    out['cpu:%d' % b] = [(time.process_time() - cpu0) * 1e3 / iters_for(b)]
bt = []
for i in range(203):
    t0 = time.perf_counter()
    dist.barrier()
    dt = (time.perf_counter() - t0) * 1e3
    if i >= 3:
        bt.append(dt)
out['barrier'] = bt
gathered = [None] * world
dist.all_gather_object(gathered, out)
if rank == 0:
    maxed = {k: [max(g[k][i] for g in gathered) for i in range(len(out[k]))] for k in out}
    sys.stdout.write('BENCH ' + json.dumps({'times': maxed}) + '\n')
    sys.stdout.flush()
dist.destroy_process_group()
