#!/usr/bin/env bash
# gpu-check.sh: the full-size check (examples/sdscale) on a GPU through XLA.
#
#   scripts/gpu-check.sh build   on the developer machine (Go toolchain, gcc): builds bin/sdscale
#                                with cgo, for a GPU machine that has no Go toolchain.
#   scripts/gpu-check.sh run     on the GPU machine, in the repository root with bin/ copied there:
#                                finds the CUDA PJRT plugin of the Python environment's JAX and runs
#                                every phase in fp32 and in bf16, printing the two tables.
#
# Extra arguments after "run" go to sdscale (e.g. --model sd21-base). Nothing is downloaded: the
# plugin must already be installed (pip's jax[cuda] ships it as jax_plugins/xla_cuda*/).
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
build)
	mkdir -p bin
	CGO_ENABLED=1 GOEXPERIMENT=simd go build -o bin/sdscale ./examples/sdscale
	echo "built bin/sdscale; copy bin/ to the GPU machine and run: scripts/gpu-check.sh run"
	;;
run)
	shift
	[ -x bin/sdscale ] || { echo "gpu-check: bin/sdscale missing: run 'scripts/gpu-check.sh build' first" >&2; exit 1; }
	SP=$(python3 -c 'import site; print(site.getsitepackages()[0])')
	PLUG=$(ls "$SP"/jax_plugins/xla_cuda*/xla_cuda_plugin.so 2>/dev/null | head -1 || true)
	[ -n "$PLUG" ] || { echo "gpu-check: no CUDA PJRT plugin under $SP/jax_plugins" >&2; exit 1; }
	LD_LIBRARY_PATH=$(ls -d "$SP"/nvidia/*/lib 2>/dev/null | tr '\n' ':')${LD_LIBRARY_PATH:-}
	export LD_LIBRARY_PATH GOMLX_NO_AUTO_INSTALL=1 GOPJRT_CUDA_CHECKS=0 GOMLX_BACKEND="xla:$PLUG"
	nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
	# Without gradient checkpointing, as the PyTorch anchors in the README were measured (an H200
	# has the memory); pass --gradient-checkpointing after "run" to measure it on as well.
	for precision in fp32 bf16; do
		echo "== precision $precision"
		./bin/sdscale --precision "$precision" --gradient-checkpointing=false "$@"
	done
	;;
*)
	echo "usage: scripts/gpu-check.sh build | run [sdscale flags]" >&2
	exit 2
	;;
esac
