#!/usr/bin/env bash
# Runs a Cairn sweep on Slurm: a job array with one slice per task, then a merge job that
# starts when every task has succeeded (docs/research/cluster.md).
#
#   scripts/sweep-slurm.sh SWEEP.json OUTDIR [SLICES] [SEED]
#
# SLICES (default 8) array tasks each run
#   cairn simulate SWEEP.json --seed SEED --cell $SLURM_ARRAY_TASK_ID --of SLICES \
#         --jobs $SLURM_CPUS_PER_TASK --out OUTDIR/slice-$SLURM_ARRAY_TASK_ID
# and the merge job runs `cairn simulate merge OUTDIR/slice-* --out OUTDIR/merged`.
# Every slice must use the same seed (merge refuses slices of different seeds), so it is
# fixed here: SEED, or one drawn now and printed. Logs go to OUTDIR/logs/.
#
# Environment: CAIRN, the cairn binary (default .build/release/cairn beside this script);
# CPUS_PER_TASK (default 2), the cores each task runs its runs on; SBATCH_EXTRA, more sbatch
# options (e.g. "--partition=long --time=02:00:00"). OUTDIR and CAIRN must be on a file
# system every node sees.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

case "${1:-}" in
task)
    # Inside an array task (submitted below): the environment carries the sweep.
    slice="$SLURM_ARRAY_TASK_ID"
    exec "$CAIRN" simulate "$SWEEP" --seed "$SEED" --cell "$slice" --of "$SLICES" \
        --jobs "${SLURM_CPUS_PER_TASK:-1}" --no-progress --out "$OUTDIR/slice-$slice"
    ;;
merge)
    dirs=()
    for ((i = 0; i < SLICES; i++)); do dirs+=("$OUTDIR/slice-$i"); done
    exec "$CAIRN" simulate merge "${dirs[@]}" --out "$OUTDIR/merged"
    ;;
esac

if [[ $# -lt 2 || $# -gt 4 ]]; then
    echo "usage: $0 SWEEP.json OUTDIR [SLICES] [SEED]" >&2
    exit 64
fi
command -v sbatch >/dev/null || { echo "error: sbatch not found: is Slurm installed (docs/research/cluster.md)?" >&2; exit 1; }
SWEEP="$(realpath "$1")"
OUTDIR="$(realpath -m "$2")"
SLICES="${3:-8}"
SEED="${4:-$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')}"
CAIRN="$(realpath "${CAIRN:-$here/../.build/release/cairn}")"
[[ -x "$CAIRN" ]] || { echo "error: $CAIRN is not executable: build it (swift build -c release) or set CAIRN" >&2; exit 1; }
# The sweep must expand before anything is queued: an invalid cell is an error now.
"$CAIRN" simulate "$SWEEP" --expand 0 >/dev/null
mkdir -p "$OUTDIR/logs"
export SWEEP OUTDIR SLICES SEED CAIRN

# shellcheck disable=SC2086 # SBATCH_EXTRA is a list of options
array=$(sbatch --parsable --job-name=cairn-sweep --array="0-$((SLICES - 1))" \
    --cpus-per-task="${CPUS_PER_TASK:-2}" --export=ALL --output="$OUTDIR/logs/slice-%a.out" \
    ${SBATCH_EXTRA:-} "$here/sweep-slurm.sh" task)
# shellcheck disable=SC2086
merge=$(sbatch --parsable --job-name=cairn-sweep-merge --dependency="afterok:${array%%;*}" \
    --cpus-per-task=1 --export=ALL --output="$OUTDIR/logs/merge.out" \
    ${SBATCH_EXTRA:-} "$here/sweep-slurm.sh" merge)
echo "SEED=$SEED"
echo "array job $array ($SLICES slices), merge job $merge: results in $OUTDIR/merged (sweep.csv, summary.csv)"
