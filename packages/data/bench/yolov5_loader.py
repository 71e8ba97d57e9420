"""YOLOv5 v7.0's data pipeline, timed the way data-bench.ts times ours (our driver, not YOLOv5 code).

The benchmark (data-bench.ts) runs this right after our own loader, in the same run, on a
copy of the dataset in a temporary folder (YOLOv5 writes labels/<split>.cache beside the
labels). It imports YOLOv5 from the folder named by --yolov5 (a v7.0 checkout kept outside
the repository) and uses YOLOv5's own create_dataloader, i.e. LoadImagesAndLabels with OpenCV
in `workers` DataLoader processes, exactly as train.py (mosaic) and val.py (rect letterbox) do.

    /usr/bin/python3 yolov5_loader.py --yolov5 DIR --images DATASET_COPY/images/train2017

Requests on stdin, one JSON object per line, each answered by one JSON line on stdout
(everything YOLOv5 logs goes to stderr):
  {"type": "time", "run": {"pipeline": "mosaic"|"letterbox", "imgsz", "batch", "workers"},
   "epochs": 2, "warmupImages": 32}          -> {"images", "seconds", "cpuSeconds"}
  {"type": "profile", "run": {...}, "images": 64}
      -> {"pipeline", "imgsz", "images", "msPerImage": {stage: ms}}: cProfile's split of the
         time per image by stage, in this one process (no DataLoader workers).
CPU seconds are the main process's plus its DataLoader worker processes' (from /proc).
"""
import argparse
import cProfile
import gc
import json
import os
import pstats
import sys
import time
import types

REAL_STDOUT = sys.stdout
sys.stdout = sys.stderr  # YOLOv5's logger and tqdm write to stdout: keep ours parseable

CLOCK_TICKS = os.sysconf('SC_CLK_TCK')


def process_cpu_seconds(pid):
    """utime + stime of one process (all its threads) from /proc/<pid>/stat."""
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def import_yolov5(folder):
    # general.py imports IPython only for notebook display helpers the loader never calls;
    # Debian's python3 has no IPython: an empty module stands in
    sys.modules.setdefault('IPython', types.ModuleType('IPython'))
    os.environ.setdefault('PIN_MEMORY', 'false')  # no CUDA here: pinning would only warn
    os.environ.setdefault('YOLOv5_AUTOINSTALL', 'false')
    sys.path.insert(0, folder)
    import yaml
    from utils.dataloaders import create_dataloader
    with open(os.path.join(folder, 'data/hyps/hyp.scratch-low.yaml')) as f:
        hyp = yaml.safe_load(f)
    return create_dataloader, hyp


def make_loader(create_dataloader, hyp, images, run, workers):
    mosaic = run['pipeline'] == 'mosaic'
    # train.py: augment, hyp, shuffle; val.py: rect, pad 0.5, no augmentation
    loader, dataset = create_dataloader(images, run['imgsz'], run['batch'], 32, hyp=hyp if mosaic else None,
                                        cache=run.get('cache') or False,
                                        augment=mosaic, pad=0.0 if mosaic else 0.5, rect=not mosaic,
                                        workers=workers, shuffle=mosaic, prefix=f"{run['pipeline']} {run['imgsz']}: ")
    return loader, dataset


def time_run(create_dataloader, hyp, images, run, epochs, warmup_images):
    loader, dataset = make_loader(create_dataloader, hyp, images, run, run['workers'])
    batches = iter(loader)
    for _ in range(max(1, -(-warmup_images // run['batch']))):  # worker start, first decodes
        next(batches)
    workers = [w.pid for w in getattr(loader.iterator, '_workers', [])] if hasattr(loader, 'iterator') else []
    cpu0 = os.times()
    workers0 = sum(process_cpu_seconds(p) for p in workers)
    t0 = time.perf_counter()
    n = 0
    for _ in range(epochs):
        for imgs, _targets, _paths, _shapes in loader:
            n += imgs.shape[0]
    seconds = time.perf_counter() - t0
    cpu1 = os.times()
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    cpu += sum(process_cpu_seconds(p) for p in workers) - workers0
    del batches, loader, dataset
    return {'images': n, 'seconds': seconds, 'cpuSeconds': cpu}


# cProfile function names -> pipeline stage (approximate: numpy's dispatch and other helpers
# stay under "other"). Built-ins appear as '<imdecode>' or '<built-in method torch.stack>'.
STAGES = {
    'decode (imread: fromfile + imdecode)': {'imdecode', 'imread', 'numpy.fromfile'},
    'resize (load_image)': {'resize', 'load_image'},
    'mosaic canvas + placement': {'load_mosaic', 'full'},
    'warp (random_perspective)': {'warpAffine', 'warpPerspective', 'random_perspective', 'box_candidates', 'getRotationMatrix2D'},
    'letterbox': {'copyMakeBorder', 'letterbox'},
    'HSV': {'augment_hsv', 'cvtColor', 'LUT', 'merge', 'split'},
    'flips + HWC->CHW copy': {'flipud', 'fliplr', 'numpy.ascontiguousarray', 'transpose'},
    'collate (torch.stack)': {'collate_fn', 'torch.stack', 'torch.zeros', 'torch.from_numpy'},
}


def stage_of(func):
    filename, _line, name = func
    if filename == '~':  # a built-in: '<name>' or '<built-in method name>'
        name = name.strip('<>').removeprefix('built-in method ')
    for stage, names in STAGES.items():
        if name in names:
            return stage
    return 'other (labels, numpy dispatch, python)'


def profile_run(create_dataloader, hyp, images, run, n_images):
    """Builds n_images samples plus their batches in this process under cProfile."""
    loader, dataset = make_loader(create_dataloader, hyp, images, run, 0)
    collate = loader.collate_fn
    count = min(n_images, len(dataset))
    profiler = cProfile.Profile(time.process_time)  # CPU time: the machine may be shared
    profiler.enable()
    for start in range(0, count, run['batch']):
        collate([dataset[i] for i in range(start, min(count, start + run['batch']))])
    profiler.disable()
    totals = {}
    for func, (_cc, _nc, tottime, _ct, _callers) in pstats.Stats(profiler).stats.items():
        stage = stage_of(func)
        totals[stage] = totals.get(stage, 0.0) + tottime
    return {'pipeline': run['pipeline'], 'imgsz': run['imgsz'], 'images': count,
            'msPerImage': {k: 1000 * v / count for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--yolov5', required=True, help='YOLOv5 v7.0 source folder')
    parser.add_argument('--images', required=True, help='images folder of a dataset copy YOLOv5 may write caches into')
    args = parser.parse_args()
    create_dataloader, hyp = import_yolov5(args.yolov5)
    for line in sys.stdin:  # one request per line, one JSON answer per line, until stdin closes
        req = json.loads(line)
        if req['type'] == 'time':
            answer = time_run(create_dataloader, hyp, args.images, req['run'], req['epochs'], req['warmupImages'])
        else:
            answer = profile_run(create_dataloader, hyp, args.images, req['run'], req['images'])
        gc.collect()  # shut down the DataLoader's worker processes before the next measurement
        print(json.dumps(answer), file=REAL_STDOUT, flush=True)


if __name__ == '__main__':
    main()
