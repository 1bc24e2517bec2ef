#!/usr/bin/env bash
# GPU probe for docs/gpu.md: what the GPU machine has for a CUDA libtensorflow, and PyTorch's LeNet epochs on it.
# Data: `node scripts/gpu-probe-data.mjs` here first; the run carries .gpuprobe/ and writes its log to $OUT/probe.log
# (committed as docs/gpu-probe.txt).
set +e
exec > >(tee "$OUT/probe.log") 2>&1
echo "== date"; date -u
echo "== nvidia-smi"; nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv
echo "== nvcc"; nvcc --version | tail -2
echo "== node"; which node nodejs npm; node --version
echo "== python tensorflow"; python3 -c "import tensorflow as t; print(t.__version__)" 2>&1 | tail -1
echo "== jaxlib"; python3 -c "import jaxlib, jax; print(jaxlib.__version__, jax.devices())" 2>&1 | tail -1
echo "== shared libraries"; find / -xdev \( -name 'libtensorflow*.so*' -o -name 'libcudart.so*' -o -name 'libcudnn.so.*' -o -name 'libcublas.so.*' -o -name 'libcufft.so.*' -o -name 'libnccl.so*' \) 2>/dev/null | grep -v '^/proc' | sort | head -60
echo "== /dev"; ls /dev/nvidia*
echo "== torch"; python3 -c "import torch; print(torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), torch.cuda.get_device_name(0), 'threads', torch.get_num_threads())"
echo "== cpus"; nproc; grep -m1 'model name' /proc/cpuinfo
gunzip -c .gpuprobe/x.f32.gz > /tmp/x.f32
for m in lenet-5 lenet-300-100; do for s in 0 0.8; do for d in cuda cpu; do
  echo "== torch epoch $m sparsity $s $d"
  timeout 120 python3 scripts/speed-torch.py --data /tmp/x.f32 --labels .gpuprobe/y.i32 --rows 8006 --model $m --epochs 6 --sparsity $s --device $d
done; done; done
echo "== end"; date -u
