#!/usr/bin/env bash
# The GPU check of bam's webgpu backend, as one prepared script for a machine with an NVIDIA GPU,
# its driver with the Vulkan ICD, and no internet (docs/gpu.md says what to carry there):
#   1. records the environment (Node, GPU, Vulkan loader and ICDs) in the log folder;
#   2. probes WebGPU adapters and stops unless Dawn finds a hardware one;
#   3. runs the correctness suite packages/core/test/webgpu on that adapter (webgpu vs wasm);
#   4. measures training/evaluation throughput on webgpu and wasm (gpu/throughput.ts) and appends
#      them, with the suite's result and the adapter, to benchmarks/RESULTS.md.
#
# usage: benchmarks/gpu/run.sh [--allow-software] [--quick] [--no-append] [--results FILE]
#   --allow-software  accept a software adapter (llvmpipe/lavapipe): to try the script without a GPU
#   --quick           smoke preset, few steps (minutes on a GPU; for a first check)
#   --no-append       print the section instead of appending it
#   --results FILE    where to append (default benchmarks/RESULTS.md)
# Logs go to $OUT/gpu-run when OUT is set (and RESULTS.md is copied there), else to a temp folder.
# Exit codes: 0 ok; 2 bad usage or missing files; 3 no hardware adapter; 1 suite or benchmark failed.
set -euo pipefail
cd "$(dirname "$0")/../.."

allow=0 quick=0 append=1 results=benchmarks/RESULTS.md
while [ $# -gt 0 ]; do
  case "$1" in
    --allow-software) allow=1 ;;
    --quick) quick=1 ;;
    --no-append) append=0 ;;
    --results) results="$2"; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

log="${OUT:+$OUT/gpu-run}"
log="${log:-$(mktemp -d -t bam-gpu-run.XXXXXX)}"
mkdir -p "$log"
echo "run.sh: logs in $log"

# 1. Environment.
{
  echo "date: $(date -u +%FT%TZ)"; echo "uname: $(uname -a)"; echo "node: $(node --version 2>&1 || echo missing)"
  echo "--- nvidia-smi"; nvidia-smi 2>&1 || echo "(no nvidia-smi)"
  echo "--- vulkaninfo --summary"; vulkaninfo --summary 2>&1 || echo "(no vulkaninfo)"
  echo "--- Vulkan loader and ICDs"; ldconfig -p 2>/dev/null | grep -E 'libvulkan|nvidia' || echo "(no libvulkan / nvidia libs in ldconfig)"
  ls -l /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>&1 || true
} > "$log/env.txt" 2>&1
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$node_major" -ge 20 ] || { echo "run.sh: needs Node >= 20 (found: $(node --version 2>&1 || echo none))" >&2; exit 2; }
for f in node_modules/webgpu/dist/linux-x64/dawn.node node_modules/@tensorflow/tfjs-backend-webgpu/package.json node_modules/@tensorflow/tfjs-backend-wasm/package.json node_modules/.bin/vitest node_modules/.bin/tsx; do
  [ -e "$f" ] || { echo "run.sh: missing $f: carry the checkout with its node_modules (npm ci done elsewhere; docs/gpu.md)" >&2; exit 2; }
done

# 2. Adapter.
soft=(); [ "$allow" = 1 ] && soft=(--allow-software)
set +e
npx tsx benchmarks/gpu/probe.ts "${soft[@]}" > "$log/probe.json" 2> "$log/probe.stderr"
probe_rc=$?
set -e
adapter=$(node -p "JSON.parse(require('fs').readFileSync('$log/probe.json','utf8')).summary" 2>/dev/null || echo unknown)
echo "run.sh: adapter: $adapter"
if [ "$probe_rc" = 4 ] || { [ "$probe_rc" = 3 ] && [ "$allow" = 0 ]; }; then
  echo "run.sh: no hardware WebGPU adapter (see $log/probe.json and $log/env.txt). On NVIDIA: the driver's" >&2
  echo "  Vulkan ICD (nvidia_icd.json) and the loader libvulkan.so.1 (Debian: libvulkan1) must be installed." >&2
  exit 3
fi
[ "$probe_rc" = 0 ] || [ "$probe_rc" = 3 ] || { echo "run.sh: probe failed (rc $probe_rc): $(tail -3 "$log/probe.stderr")" >&2; exit 1; }

# 3. Correctness suite on this adapter (a software adapter would fail it unless allowed).
expect_hw=1; [ "$allow" = 1 ] && expect_hw=0
set +e
BAM_WEBGPU_EXPECT_HARDWARE=$expect_hw npx vitest run packages/core/test/webgpu > "$log/suite.txt" 2>&1
suite_rc=$?
set -e
summary=$(sed 's/\x1b\[[0-9;]*m//g' "$log/suite.txt" | grep -E '^\s+Tests\s' | tail -1 | sed -E 's/^\s+Tests\s+//; s/\s+$//')
summary="${summary:-no summary (see suite.txt)}"
echo "run.sh: correctness suite: $summary (rc $suite_rc)"
[ "$suite_rc" = 0 ] || { echo "run.sh: the correctness suite failed on $adapter; numbers not recorded (see $log/suite.txt)" >&2; exit 1; }

# 4. Throughput, webgpu vs wasm.
if [ "$quick" = 1 ]; then sizes=(--preset smoke --steps 5 --eval-steps 5 --runs 1 --batch-size 4 --seq-len 32)
else sizes=(--preset tiny --steps 20 --eval-steps 20 --runs 3 --batch-size 8 --seq-len 128); fi
target="$results"; [ "$append" = 1 ] || target="$log/section.md"
npx tsx benchmarks/gpu/throughput.ts "${sizes[@]}" "${soft[@]}" --backends webgpu,wasm \
  --suite "$summary on this adapter" --append "$target" 2> "$log/throughput.stderr" | tee "$log/throughput.jsonl"
[ "$append" = 1 ] || cat "$target"
[ -z "${OUT:-}" ] || cp "$results" "$OUT/RESULTS.md"
echo "run.sh: done ($( [ "$append" = 1 ] && echo "appended to $results" || echo "not appended" ))"
