#!/usr/bin/env bash
# The Shapes demo's training speed on two builds of `miro`, alternated in one run (issue 19: "today's" demo
# vs the new engine). Each round trains the demo's settings (tiny preset, batch 32, LAMB 2e-3, EMA 0.995,
# seed 3407) for 100 steps on each build, with each build's default thread count, and reads the trainer's
# samples/s at steps 50, 75 and 100 (the first 25 include warm-up allocations).
#
#   scripts/bench-demo-builds.sh OLD_MIRO NEW_MIRO [ROUNDS]      # default 3 rounds
#
# The build before the engine moved to libtorch 2.15 (commit 90d7e65, Debian's libtorch 1.13 via
# libtorch-dev; it has no .deps folder, so it links /usr). Its own scripts/setup.sh installs what it links,
# OpenBLAS included: without it apt resolves libtorch's BLAS to the reference one and the old build runs ~30x slower.
#   git worktree add --detach /tmp/miro-old 90d7e65 && (cd /tmp/miro-old && bash scripts/setup.sh && swift build -c release --product miro)
#   scripts/bench-demo-builds.sh /tmp/miro-old/.build/release/miro .build/release/miro
# Run it alone on the machine.
set -euo pipefail
old=${1:?usage: $0 OLD_MIRO NEW_MIRO [ROUNDS]}
new=${2:?usage: $0 OLD_MIRO NEW_MIRO [ROUNDS]}
rounds=${3:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
args=(train --preset tiny --batch-size 32 --lr 2e-3 --ema-decay 0.995 --steps 100 --seed 3407 --sample-every 0
      --save-every 1000 --log-every 25 --overwrite)
log=$work/rates
for r in $(seq 1 "$rounds"); do
  for side in old new; do
    bin=$old; [ "$side" = new ] && bin=$new
    rates=$("$bin" "${args[@]}" --run "$work/run-$side" 2>&1 | grep -E 'step +(50|75|100) \|' \
            | sed -E 's/.*\| +([0-9.]+) samples\/s.*/\1/' | tr '\n' ' ')
    echo "round $r | $side | samples/s at steps 50, 75, 100: $rates| load $(cut -d' ' -f1 /proc/loadavg)"
    echo "$r $side $rates" >>"$log"
  done
done
python3 - "$log" <<'PY'
import statistics, sys
rounds = {}
for line in open(sys.argv[1]):
    r, side, *rates = line.split()
    rounds.setdefault(r, {})[side] = statistics.median(float(x) for x in rates)
ratios = [v["new"] / v["old"] for v in rounds.values()]
print(f"old median {statistics.median(v['old'] for v in rounds.values()):.1f} samples/s, "
      f"new median {statistics.median(v['new'] for v in rounds.values()):.1f} samples/s")
print(f"new/old per round: {', '.join(f'{x:.2f}' for x in ratios)}; best {max(ratios):.2f}, median {statistics.median(ratios):.2f}")
PY
