"""Labelling at scale (issue #15): throughput and peak memory per process, one machine and Dask.

Subcommands
-----------
run
    Train a kit quickly on PneumoniaMNIST (light net), write ``N`` 28x28 uint8 images per size
    as Zarr arrays under ``--data`` (never committed), then measure, each in a fresh process:
    raw ``torch.inference_mode()`` encoding of the same images (read from the same Zarr array),
    :func:`skdcsae.recipient.label_archive` in process, and on a ``LocalCluster`` of 1 and 2
    single-threaded workers. First a sweep of partition sizes picks the one used after it.
    Every measurement appends one JSON line to ``--results``; a rerun skips those present.
report
    ``scale.md`` beside the results: the tables, the ratios, and the 100-worker estimate.

Examples
--------
::

    OMP_NUM_THREADS=1 nohup python benchmarks/scale.py run > /tmp/scale.log 2>&1 &
    python benchmarks/scale.py report
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SHARED = Path(os.environ.get("SKDCSAE_SHARED_DATA", HERE.parents[1] / "shared" / "data"))
LIGHT = {"conv_channels": (32, 16), "dense_sizes": (256,)}
CHUNK_ROWS = 1024  # Zarr chunk: every partition size of the sweep is a multiple
BATCH = 256


def _info() -> dict:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True
    ).stdout.strip()
    return {"commit": commit, "cpus": os.cpu_count(), "python": platform.python_version()}


def _cpu_seconds() -> float:
    """CPU time (user + system) this process has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mib() -> float:
    """This process's peak resident memory (VmHWM: ``ru_maxrss`` would include the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- data ------------------------------------------------------------------------------------
def make_kit(data: Path) -> Path:
    """A DC-SAE on 100 balanced PneumoniaMNIST images per class, 10 epochs (light net)."""
    path = data / "kit.joblib"
    if path.exists():
        return path
    from skdcsae import DCSAETransformer

    with np.load(SHARED / "pneumoniamnist_balanced.npz") as d:
        X, y = d["train_images"], d["train_labels"].ravel()
    rng = np.random.default_rng(0)
    idx = np.concatenate([rng.choice(np.flatnonzero(y == c), 100, replace=False) for c in (0, 1)])
    est = DCSAETransformer(
        image_shape=(28, 28), **LIGHT, max_epochs=10, min_steps=0, device="cpu", random_state=0
    ).fit(X[idx], y[idx])
    est.export_donor_kit(path, X[idx], y[idx])
    return path


def make_images(data: Path, n: int) -> Path:
    """``n`` PneumoniaMNIST images drawn with replacement, flipped at random, with noise."""
    import zarr

    path = data / f"images_{n}.zarr"
    if (path / "done").exists():
        return path
    with np.load(SHARED / "pneumoniamnist_balanced.npz") as d:
        base = np.concatenate([d[f"{s}_images"] for s in ("train", "val", "test")])
    z = zarr.open_array(
        str(path), mode="w", shape=(n, 28, 28), chunks=(CHUNK_ROWS, 28, 28), dtype=np.uint8
    )
    rng = np.random.default_rng(n)
    for start in range(0, n, 64 * CHUNK_ROWS):
        m = min(n, start + 64 * CHUNK_ROWS) - start
        block = base[rng.integers(0, len(base), m)].astype(np.int16)
        flip = rng.random(m) < 0.5
        block[flip] = block[flip, :, ::-1]
        block += rng.integers(-6, 7, block.shape, dtype=np.int16)
        z[start : start + m] = np.clip(block, 0, 255).astype(np.uint8)
    (path / "done").write_text("")
    return path


# --- children (one fresh process per measurement) --------------------------------------------
def _malloc(cfg) -> None:
    """Tuned glibc malloc thresholds (the CLI's and the workers' setting) unless told not to."""
    if cfg.get("malloc", "tuned") == "tuned":
        from skdcsae.recipient._malloc import tune_malloc

        assert tune_malloc()


def child_raw(cfg) -> dict:
    """Read the Zarr array block by block and encode it; nothing else."""
    import torch
    import zarr

    from skdcsae import RecipientLabeler

    _malloc(cfg)

    t0 = time.perf_counter()
    labeler = RecipientLabeler(cfg["kit"], device="cpu").fit()
    kit_seconds = time.perf_counter() - t0
    encoder, kit = labeler.encoder_, labeler.kit_
    z = zarr.open_array(cfg["images"], mode="r")
    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, z.shape[0], cfg["block"]):
            block = np.asarray(z[start : start + cfg["block"]])
            for b in range(0, len(block), BATCH):
                x = (block[b : b + BATCH].astype(np.float32) - kit.input_offset) / kit.input_scale
                encoder(torch.from_numpy(x).reshape(-1, 1, 28, 28))
    seconds = time.perf_counter() - t0
    cpu = _cpu_seconds() - cpu0
    store = sum(f.stat().st_size for f in Path(cfg["images"]).rglob("*") if f.is_file())
    return {
        "seconds": seconds,
        "cpu_seconds": [cpu],
        "peak_rss_mib": [_rss_mib()],
        "kit_load_seconds": kit_seconds,
        "store_bytes": store,
    }


def _kit_only(cfg):
    """What is measured is labelling: the kit alone, one pass over the archive (adapting to it
    first, label_archive's default, adds one pass: ``benchmarks/probes/adapt_cost.py``)."""
    from skdcsae import RecipientLabeler

    return RecipientLabeler(cfg["kit"], self_training=None)


def child_stream(cfg) -> dict:
    from skdcsae.recipient import label_archive

    _malloc(cfg)
    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    report = label_archive(
        _kit_only(cfg),
        cfg["images"],
        cfg["out"],
        partition_size=cfg["partition"],
        batch_size=BATCH,
        device="cpu",
        overwrite=True,
        resume=False,
        progress=False,
    )
    assert report.n_labelled == cfg["N"]
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "cpu_seconds": [_cpu_seconds() - cpu0],
        "peak_rss_mib": [_rss_mib()],
        "csv_bytes": os.path.getsize(cfg["out"]),
    }


def child_cluster(cfg) -> dict:
    from distributed import Client, LocalCluster

    from skdcsae.recipient import TorchThreads, label_archive
    from skdcsae.recipient._cluster import local_cluster

    if cfg.get("malloc", "tuned") == "tuned":  # what --scheduler local starts
        cluster, client = local_cluster(cfg["workers"])
    else:  # Dask's own worker settings (MALLOC_TRIM_THRESHOLD_=65536), torch threads only
        cluster = LocalCluster(
            n_workers=cfg["workers"], threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
        client.register_plugin(TorchThreads(1, tune_malloc=False))
    with cluster, client:
        client.run(lambda: __import__("skdcsae.recipient._stream"))  # imports, not the kit
        cpu0 = _cpu_seconds(), client.run(_cpu_seconds)
        t0 = time.perf_counter()
        report = label_archive(
            _kit_only(cfg),
            cfg["images"],
            cfg["out"],
            scheduler=client,
            partition_size=cfg["partition"],
            batch_size=BATCH,
            device="cpu",
            overwrite=True,
            resume=False,
            progress=False,
        )
        seconds = time.perf_counter() - t0
        assert report.n_labelled == cfg["N"]
        cpu = [_cpu_seconds() - cpu0[0]]
        cpu += [v - cpu0[1][w] for w, v in client.run(_cpu_seconds).items() if w in cpu0[1]]
        workers = list(client.run(_rss_mib).values())
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mib": [_rss_mib(), *workers]}


CHILDREN = {"raw": child_raw, "stream": child_stream, "cluster": child_cluster}


def measure(cfg: dict) -> dict:
    """Run one measurement in a fresh process; its row."""
    load_before = os.getloadavg()
    proc = subprocess.run(
        [sys.executable, __file__, "child", json.dumps(cfg)], capture_output=True, text=True
    )
    if proc.returncode:
        raise RuntimeError(f"{cfg}: {proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        **cfg,
        **out,
        "img_per_s": round(cfg["N"] / out["seconds"], 1),
        "load_before": [round(v, 2) for v in load_before],
        "load_after": [round(v, 2) for v in os.getloadavg()],
        **_info(),
    }


# --- the plan --------------------------------------------------------------------------------
def _key(cfg) -> str:
    keys = ("phase", "mode", "N", "workers", "partition", "malloc", "rep")
    return json.dumps({k: cfg.get(k) for k in keys})


def cmd_run(args) -> None:
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if args.results.exists():
        done = {_key(json.loads(line)) for line in args.results.read_text().splitlines()}
    kit = str(make_kit(data))

    def run(cfg):
        cfg = {"kit": kit, "out": str(data / "labels.csv"), **cfg}
        if _key(cfg) in done:
            return
        print("measuring", _key(cfg), flush=True)
        row = measure(cfg)
        with open(args.results, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(f"  {row['img_per_s']} img/s, peak RSS {row['peak_rss_mib']} MiB", flush=True)

    sweep_images = str(make_images(data, args.sweep_n))
    for rep in (1, 2):  # twice, interleaved: the best of two is less at the mercy of the load
        for p in args.partitions:
            common = {
                "phase": "sweep",
                "N": args.sweep_n,
                "images": sweep_images,
                "partition": p,
                "rep": rep,
            }
            run({**common, "mode": "stream"})
            run({**common, "mode": "cluster", "workers": 2})
    partition = args.partition or choose_partition(read_rows(args.results))
    print("partition size:", partition, flush=True)
    for rep in range(1, args.reps + 1):  # a repetition runs every size again, in order
        for n in args.sizes:
            images = str(make_images(data, n))
            common = {"phase": "scale", "N": n, "images": images, "partition": partition}
            if rep > 1:
                common["rep"] = rep
            run({**common, "mode": "raw", "block": partition})
            run({**common, "mode": "stream"})
            run({**common, "mode": "cluster", "workers": 1})
            run({**common, "mode": "cluster", "workers": 2})
            if n == min(args.sizes) and rep == 1:  # what the allocator settings are worth
                run({**common, "mode": "raw", "block": partition, "malloc": "default"})
                run({**common, "mode": "stream", "malloc": "default"})
                run({**common, "mode": "cluster", "workers": 1, "malloc": "default"})


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def choose_partition(rows, tolerance=0.05) -> int:
    """The smallest partition size within ``tolerance`` of the best throughput, in every mode
    (each size's best of its repetitions)."""
    sweep = [r for r in rows if r["phase"] == "sweep"]
    choice = 0
    for mode in {r["mode"] for r in sweep}:
        rates: dict = {}
        for r in sweep:
            if r["mode"] == mode:
                rates[r["partition"]] = max(rates.get(r["partition"], 0), r["img_per_s"])
        best = max(rates.values())
        choice = max(choice, min(p for p, v in rates.items() if v >= (1 - tolerance) * best))
    return choice


# --- the report ------------------------------------------------------------------------------
def _mode(r) -> str:
    if r["mode"] == "cluster":
        return f"LocalCluster, {r['workers']} worker{'s' if r['workers'] > 1 else ''}"
    return {"raw": "raw encoding", "stream": "label_archive, in process"}[r["mode"]]


def _malloc_name(r) -> str:
    if r.get("malloc", "tuned") == "tuned":
        return "tuned"
    return "Dask's (trim 64 KiB)" if r["mode"] == "cluster" else "glibc default"


def cmd_report(args) -> None:
    rows = read_rows(args.results)
    sweep = [r for r in rows if r["phase"] == "sweep"]
    scale = [r for r in rows if r["phase"] == "scale"]
    md = [
        "# Labelling at scale",
        "",
        "- Command: `OMP_NUM_THREADS=1 python benchmarks/scale.py run` then `report` "
        "(rows in `scale.jsonl`); every row is one fresh process (or one fresh LocalCluster).",
        f"- Machine: {rows[0]['cpus'] if rows else '?'} cores shared with other jobs; "
        "`load` is the 1-minute load average before and after each row.",
        "- Images: 28x28 uint8 PneumoniaMNIST images drawn with replacement (flips, noise), "
        f"Zarr chunks of {CHUNK_ROWS} rows; kit: light net (32,16)/(256,), 100 images per "
        f"class, 10 epochs; batch size {BATCH}; workers have 1 thread and 1 torch thread.",
        "- malloc: `tuned` is glibc's mmap/trim thresholds at 32/128 MiB "
        "(`skdcsae.recipient._malloc`: what the CLI and `TorchThreads` set); the other rows "
        "show glibc's defaults in a plain process and Dask's worker default.",
        "- Labelling from the kit alone (`self_training=None`, one pass; every row was measured "
        "so, before adapting to the archive became label_archive's default). Adapting adds one "
        "pass over the archive: `benchmarks/probes/adapt_cost.py ... stream`.",
        "",
        "## Partition size",
        "",
        "| mode | N | partition | tasks | run | images/s | load |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in sorted(sweep, key=lambda r: (r["mode"], r["partition"], r.get("rep", 1))):
        md.append(
            f"| {_mode(r)} | {r['N']:,} | {r['partition']:,} | "
            f"{-(-r['N'] // r['partition'])} | {r.get('rep', 1)} | {r['img_per_s']:,.0f} | "
            f"{r['load_before'][0]:.1f} / {r['load_after'][0]:.1f} |"
        )
    if sweep:
        md += [
            "",
            f"Chosen: {choose_partition(rows):,} images per partition (the smallest "
            "within 5% of the best throughput in both modes, best of the two runs).",
        ]
    md += [
        "",
        "## Throughput and peak memory",
        "",
        "| N | run | mode | malloc | images/s | / raw | peak RSS per process (MiB) | CPU / "
        "wall per process | load |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def rep(r):
        return r.get("rep") or 1

    raw = {
        (r["N"], r.get("malloc", "tuned"), rep(r)): r["img_per_s"]
        for r in scale
        if r["mode"] == "raw"
    }
    order = {"raw": 0, "stream": 1, "cluster": 2}
    for r in sorted(
        scale,
        key=lambda r: (
            r["N"],
            rep(r),
            r.get("malloc", "tuned") != "tuned",
            order[r["mode"]],
            r.get("workers") or 0,
        ),
    ):
        base = raw.get((r["N"], r.get("malloc", "tuned"), rep(r)))
        ratio = f"{r['img_per_s'] / base:.2f}" if base else ""
        rss = ", ".join(f"{v:.0f}" for v in r["peak_rss_mib"])
        cpu = ", ".join(f"{v / r['seconds']:.2f}" for v in r.get("cpu_seconds", []))
        md.append(
            f"| {r['N']:,} | {rep(r)} | {_mode(r)} | {_malloc_name(r)} | "
            f"{r['img_per_s']:,.0f} | {ratio} | "
            f"{rss} | {cpu} | "
            f"{r['load_before'][0]:.1f} / {r['load_after'][0]:.1f} |"
        )
    md += [
        "",
        "Cluster rows list the client's peak RSS first, then each worker's. `/ raw` divides by "
        "the raw encoding row of the same N, run and malloc setting. `CPU / wall`: the CPU time "
        "each process used during the measurement over its wall time, client first (1.00 = a whole "
        "core; rows without it ran before it was recorded): below 1 the process waited, for "
        "the other jobs on the machine or for work.",
        "",
    ]
    tuned = [r for r in scale if r.get("malloc", "tuned") == "tuned"]
    one = {(r["N"], rep(r)): r["img_per_s"] for r in tuned if r.get("workers") == 1}
    two = {(r["N"], rep(r)): r["img_per_s"] for r in tuned if r.get("workers") == 2}
    for n, k in sorted(set(one) & set(two)):
        md.append(f"- N = {n:,}, run {k}: 2 workers / 1 worker = {two[n, k] / one[n, k]:.2f}")
    md += estimate(sweep, scale)
    args.results.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("wrote", args.results.with_suffix(".md"))


def estimate(sweep, scale, n_images=100_000_000, n_workers=100) -> list[str]:
    """What 100 workers would take for 100M images, from the measured per-image costs."""
    scale = [r for r in scale if r.get("malloc", "tuned") == "tuned"]
    big = max((r["N"] for r in scale), default=None)
    rows = {(r["mode"], r.get("workers")): r for r in scale if r["N"] == big}
    one, raw, stream = rows.get(("cluster", 1)), rows.get(("raw", None)), rows.get(("stream", None))
    if not (one and raw and stream and "cpu_seconds" in one):
        return []
    # the worker's CPU seconds per image (mean over the runs): what an image costs when the
    # core is not shared
    costs = [
        r["cpu_seconds"][1] / r["N"]
        for r in scale
        if r["N"] == big and r.get("workers") == 1 and "cpu_seconds" in r
    ]
    per_image = sum(costs) / len(costs)
    rate = 1 / per_image
    partition = one["partition"]
    tasks = -(-n_images // partition)
    task_seconds = partition * per_image
    tasks_per_second = n_workers / task_seconds
    compute = n_images * per_image / n_workers
    image_bytes = raw["store_bytes"] / raw["N"]
    row_bytes = stream["csv_bytes"] / stream["N"]
    read_rate = n_workers * rate * image_bytes / 1e6
    return [
        "",
        f"## Estimate: {n_images / 1e6:.0f}M images on {n_workers} workers",
        "",
        f"- Per-image cost, from the 1-worker runs at N = {big:,}: {per_image * 1e6:.0f} us of "
        f"the worker's CPU time per image (runs: "
        f"{', '.join(f'{c * 1e6:.0f}' for c in costs)} us), i.e. {rate:,.0f} images/s on a "
        "core of its own.",
        f"- Compute: {n_images:,} x {per_image * 1e6:.0f} us / {n_workers} workers = "
        f"{compute / 60:.0f} min, if every worker has its core.",
        f"- Scheduler: {tasks:,} partitions of {partition:,} images, each {task_seconds:.1f} s "
        f"of work, so {n_workers} workers finish {tasks_per_second:.0f} tasks/s; Dask's "
        "best-practices page puts the scheduler's cost at 200 us to 1 ms per task, i.e. at "
        f"most {tasks_per_second * 1e-3:.2f} of the scheduler's time: not a limit (it would be "
        f"near {1e3 * task_seconds:,.0f} workers at this partition size).",
        f"- Client: one line appended and fsynced to done.jsonl per partition "
        f"({tasks_per_second:.0f}/s), then a single-process merge of "
        f"{n_images * row_bytes / 1e9:.1f} GB of parts ({row_bytes:.0f} bytes per row).",
        f"- Kit: loaded and checked once per worker ({raw['kit_load_seconds']:.2f} s here), in "
        "parallel: negligible.",
        f"- Storage: {n_workers} workers read {read_rate:,.0f} MB/s of compressed Zarr "
        f"({image_bytes:.0f} bytes per image) from the shared file system, and a folder of "
        f"image files would mean {n_workers * rate:,.0f} file opens per second. This is what "
        "limits first: a typical NFS server delivers a few hundred MB/s, so beyond a few tens "
        "of workers the run is I/O-bound unless the archive sits on object storage or is "
        "staged to local disks.",
    ]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--data", default="/tmp/skdcsae-scale")
    run.add_argument("--results", type=Path, default=RESULTS / "scale.jsonl")
    run.add_argument(
        "--sizes",
        type=lambda s: [int(v) for v in s.split(",")],
        default=[100_000, 300_000, 1_000_000],
    )
    run.add_argument("--sweep-n", type=int, default=100_000)
    run.add_argument(
        "--partitions", type=lambda s: [int(v) for v in s.split(",")], default=[1024, 4096, 16384]
    )
    run.add_argument("--partition", type=int, default=None, help="skip the choice")
    run.add_argument("--reps", type=int, default=2, help="repetitions of the scale rows")
    rep = sub.add_parser("report")
    rep.add_argument("--results", type=Path, default=RESULTS / "scale.jsonl")
    child = sub.add_parser("child")
    child.add_argument("config")
    args = parser.parse_args(argv)
    if args.command == "child":
        cfg = json.loads(args.config)
        print(json.dumps(CHILDREN[cfg["mode"]](cfg)))
        return
    {"run": cmd_run, "report": cmd_report}[args.command](args)


if __name__ == "__main__":
    main()
