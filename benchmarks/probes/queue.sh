#!/bin/sh
# Sequential queue of probe stages (one process at a time), most important first. Every stage
# is resumable: rerunning the queue skips finished (config, n, seed) rows. K is cut to 3 (or 1)
# where the machine's load (5-15 on 2 cores, other engineers' jobs) made K=5 too slow.
# Usage: OMP_NUM_THREADS=1 PYTHONPATH=/work/wt-acc nohup sh benchmarks/probes/queue.sh > log &
PY=/work/main/.venv/bin/python
P=benchmarks/probes
$PY $P/probe.py --configs aug_cos_s1500_d8 --sizes 10 --seeds 0 1 2 3
$PY $P/probe.py --configs base@K3 aug_cos_s1500_d8@K3 --sizes 180 --seeds 0 1
$PY $P/digits.py --configs base@K3 aug_cos_s1500_d8@K3 --seeds 0 1
$PY $P/probe.py --configs base --sizes 10 --seeds 0 1 2 3
$PY $P/probe.py --configs semi_sup_d8 semi_lse_d8 --sizes 10 --seeds 0 1 2 3 --pool 1000
$PY $P/probe.py --configs cos_s1500_d8 --sizes 10 --seeds 0 1 2 3
$PY $P/probe.py --configs base@K3 aug_cos_s1500_d8@K3 --sizes 50 --seeds 0 1 2 3
$PY $P/probe.py --configs base@K3 aug_cos_s1500_d8@K3 --sizes 180 --seeds 2 3
$PY $P/digits.py --configs base@K3 aug_cos_s1500_d8@K3 cos_s1500_d8 --seeds 2 3
$PY $P/probe.py --configs base@K3 aug_cos_s1500_d8@K3 --sizes 180 --seeds 0 1 2 3 --datasets official
