#!/bin/sh
# Sequential queue of probe stages (one process at a time), most important first. Every stage
# is resumable: rerunning the queue skips finished (config, n, seed) rows.
# Usage: OMP_NUM_THREADS=1 PYTHONPATH=/work/wt-acc nohup sh benchmarks/probes/queue.sh > log &
PY=/work/main/.venv/bin/python
P=benchmarks/probes
$PY $P/probe.py --configs aug_cos_s1500_d8 --sizes 10 --seeds 2 3
$PY $P/probe.py --configs base aug_cos_s1500_d8 --sizes 180 --seeds 0 1
$PY $P/digits.py --configs base aug_cos_s1500_d8 --seeds 0 1
$PY $P/probe.py --configs cos_s1500_d8 --sizes 10 --seeds 0 1 2 3
$PY $P/probe.py --configs semi_sup_d8 semi_lse_d8 --sizes 10 --seeds 0 1 2 3 --pool 1000
$PY $P/probe.py --configs base aug_cos_s1500_d8 --sizes 50 --seeds 0 1 2 3
$PY $P/probe.py --configs base aug_cos_s1500_d8 --sizes 180 --seeds 2 3
$PY $P/digits.py --configs base aug_cos_s1500_d8 cos_s1500_d8 --seeds 2 3
$PY $P/probe.py --configs base aug_cos_s1500_d8 --sizes 180 --seeds 0 1 2 3 --datasets official
