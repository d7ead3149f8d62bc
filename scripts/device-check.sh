#!/usr/bin/env bash
# device-check.sh: build and check the packed kernels on a GPU server in one go.
#   - builds kernels/ standalone with CUDA (needs only cmake, a C++ compiler and the CUDA toolkit)
#   - runs `scalebits-kernels verify` (every width, mixed widths, awkward shapes; CPU and CUDA
#     against the CPU reference): a mismatch makes this script exit non-zero
#   - benchmarks batch-1 GEMV at 2, 3, 4 bits and mixed (~3 bits) on the standard shapes with
#     FP16 cuBLAS and the device-to-device copy bandwidth measured in the same run
#   - times torch._weight_int4pack_mm (group 128) on the same shapes with the machine's PyTorch
#   - prints a short table last
# Environment: BUILD_DIR (default build/device-check), RESULTS_DIR (default $BUILD_DIR/results),
# SHAPES (default the five shapes below), CUDA_ARCH (default 90), PYTHON (default python3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build/device-check}"
RESULTS_DIR="${RESULTS_DIR:-$BUILD_DIR/results}"
SHAPES="${SHAPES:-4096x4096,14336x4096,4096x14336,28672x8192,8192x28672}"
CUDA_ARCH="${CUDA_ARCH:-90}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$RESULTS_DIR"

echo "== build (kernels standalone, CUDA arch $CUDA_ARCH)"
NVCC="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)"
cmake -S "$ROOT/kernels" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DSCALEBITS_CUDA=ON \
      -DCMAKE_CUDA_COMPILER="$NVCC" -DSCALEBITS_CUDA_ARCHITECTURES="$CUDA_ARCH" > "$RESULTS_DIR/configure.log"
cmake --build "$BUILD_DIR" -j"$(nproc)" > "$RESULTS_DIR/build.log" 2>&1 || { tail -40 "$RESULTS_DIR/build.log"; exit 1; }
TOOL="$BUILD_DIR/scalebits-kernels"

echo "== verify"
verify_rc=0
"$TOOL" verify --device cuda 2>&1 | tee "$RESULTS_DIR/verify.txt" || verify_rc=$?
if [ "$verify_rc" -ne 0 ]; then
    echo "device-check: verify FAILED (exit $verify_rc)" >&2
    exit 1
fi

echo "== bench (packed GEMV batch 1)"
"$TOOL" bench --device cuda --shapes "$SHAPES" --bits 2,3,4,mixed --batch 1 --iters 200 --json \
    > "$RESULTS_DIR/bench.json"

echo "== torch int4 (torch._weight_int4pack_mm, group 128)"
torch_rc=0
SHAPES="$SHAPES" "$PYTHON" - > "$RESULTS_DIR/torch_int4.json" 2> "$RESULTS_DIR/torch_int4.log" <<'PY' || torch_rc=$?
# Times torch's own int4 weight-only GEMV on the same shapes, batch 1, CUDA events, weights rotated
# so the L2 cache does not hold them. Handles the API change of torch 2.5: before, the weight to
# pack was int32 [N, K] with values 0..15; since, uint8 [N, K/2] with two nibbles per byte.
import json, os, statistics, sys
import torch

def pack_weight(q, inner_k_tiles=8):
    try:
        packed_u8 = (q[:, ::2] << 4 | q[:, 1::2]).to(torch.uint8)
        return torch._convert_weight_to_int4pack(packed_u8.contiguous(), inner_k_tiles)
    except (RuntimeError, TypeError):
        return torch._convert_weight_to_int4pack(q.to(torch.int32).contiguous(), inner_k_tiles)

def time_case(n, k, group=128, iters=200):
    dev = torch.device("cuda")
    wbytes = n * k // 2
    copies = max(2, min(8, (512 << 20) // wbytes + 1))
    ws = []
    for _ in range(copies):
        q = torch.randint(0, 16, (n, k), dtype=torch.int32, device=dev)
        ws.append(pack_weight(q))
    sz = torch.rand(k // group, n, 2, device=dev, dtype=torch.bfloat16)  # [K/group, N, (scale, zero)]
    x = torch.randn(1, k, device=dev, dtype=torch.bfloat16)
    for i in range(3):
        torch._weight_int4pack_mm(x, ws[i % copies], group, sz)
    torch.cuda.synchronize()
    times = []
    for i in range(iters):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        torch._weight_int4pack_mm(x, ws[i % copies], group, sz)
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1e3)
    return statistics.median(times)

out = {"torch": torch.__version__, "device": torch.cuda.get_device_name(), "results": []}
for s in os.environ["SHAPES"].split(","):
    n, k = (int(v) for v in s.split("x"))
    try:
        out["results"].append({"N": n, "K": k, "us": time_case(n, k)})
    except Exception as e:  # report and continue: the table shows n/a
        print(f"torch int4 {n}x{k}: {e}", file=sys.stderr)
        out["results"].append({"N": n, "K": k, "us": None, "error": str(e)})
print(json.dumps(out, indent=1))
PY
if [ "$torch_rc" -ne 0 ]; then
    echo "torch int4 timing failed (see $RESULTS_DIR/torch_int4.log); the table shows n/a" >&2
    echo '{"results": []}' > "$RESULTS_DIR/torch_int4.json"
fi

echo "== summary"
"$PYTHON" - "$RESULTS_DIR/bench.json" "$RESULTS_DIR/torch_int4.json" <<'PY'
import json, sys
bench = json.load(open(sys.argv[1]))
torch_res = {(r["N"], r["K"]): r.get("us") for r in json.load(open(sys.argv[2])).get("results", [])}
print(f"device {bench['device_name']}, copy bandwidth {bench['bandwidth_gbps']:.0f} GB/s (read+write)")
hdr = f"{'shape':>12} {'bits':>6} {'avg b/w':>7} {'us':>8} {'GB/s':>7} {'%copyBW':>7} {'cuBLAS16 us':>11} {'speedup':>7} {'torch int4 us':>13} {'vs int4':>7} {'err/tol':>7}"
print(hdr)
for r in bench["results"]:
    t = torch_res.get((r["N"], r["K"]))
    vs = f"{t / r['median_us']:.2f}" if t else "n/a"
    ts = f"{t:.1f}" if t else "n/a"
    print(f"{str(r['N']) + 'x' + str(r['K']):>12} {r['bits']:>6} {r['avg_bits']:>7.2f} {r['median_us']:>8.1f} {r['gbps']:>7.0f} "
          f"{100 * r['bandwidth_share']:>6.1f}% {r['baseline_us']:>11.1f} {r['speedup']:>7.2f} {ts:>13} {vs:>7} {r['max_err_over_tol']:>7.3f}")
PY
