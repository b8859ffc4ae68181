#!/usr/bin/env python3
"""Times one peer on one benchmark row, in a process of its own (run_cpu.py starts it).

    python bench/peers.py --peer kiln|eager|compile|ort --model M --batch B --work DIR
                          --threads T --result OUT.json [--so MODEL.so] [--time-s S]
                          [--warmup-s S] [--min-iters N] [--max-iters N]

Every peer sees the same inputs: a pool of POOL random input sets drawn from numpy with
fixed seeds, used in turn, so that each call gets fresh data. Pool entry 0 is the check
input: the peer's outputs on it are saved beside the result (OUT.check.npz) for run_cpu.py
to compare with eager. Latency is the median of per-call wall times (time.perf_counter)
after a warm-up; the call count is chosen from the warm-up so that timing takes ~S seconds.

The kiln peer never imports torch, so that only kiln's own OpenMP runtime is in its process.
"""

import argparse
import json
import os
import statistics
import sys
import time
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402

POOL = 4


def _seed(model, batch, k):
    # Stable across processes and machines (str hashing is salted, so no hash()).
    return 1000003 * k + 7919 * batch + sum(ord(c) * (i + 1) for i, c in enumerate(model))


def input_pool(spec, batch):
    return [models.make_inputs(spec, batch, _seed(spec.name, batch, k)) for k in range(POOL)]


class KilnPeer:
    def __init__(self, a, spec, pool):
        import kiln_ctypes

        t0 = time.perf_counter()
        self.model = kiln_ctypes.KilnModel(a.so, num_threads=a.threads)
        self.setup_s = time.perf_counter() - t0
        self.calls = [self.model.bind(inputs) for inputs in pool]

    def check(self):
        return self.model.run(self.calls[0])

    def call(self, k):
        self.model.run_discard(self.calls[k])


class TorchPeer:
    """Eager (the nn.Module under inference_mode) or torch.compile(dynamic=True) of it."""

    def __init__(self, a, spec, pool, compiled):
        import torch

        torch.set_num_threads(a.threads)
        self.torch = torch
        t0 = time.perf_counter()
        module = models.load_eager(spec, a.work)
        self.first_call_s = None
        if compiled:
            module = torch.compile(module, dynamic=True)
        self.module = module
        self.setup_s = time.perf_counter() - t0
        self.inputs = [[torch.from_numpy(x) for x in inputs] for inputs in pool]
        self.compiled = compiled

    def _outputs(self, out):
        from torch.utils._pytree import tree_flatten

        leaves, _ = tree_flatten(out)
        return [t.detach().numpy().copy() for t in leaves]

    def check(self):
        with self.torch.inference_mode():
            t0 = time.perf_counter()
            out = self.module(*self.inputs[0])
            if self.compiled:  # the first call compiles; reported, never timed as latency
                self.first_call_s = time.perf_counter() - t0
            return self._outputs(out)

    def call(self, k):
        with self.torch.inference_mode():
            self.module(*self.inputs[k])


class OrtPeer:
    def __init__(self, a, spec, pool):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = a.threads
        t0 = time.perf_counter()
        self.session = ort.InferenceSession(
            os.path.join(models.model_dir(a.work, spec.name), "model.onnx"), options,
            providers=["CPUExecutionProvider"])
        self.setup_s = time.perf_counter() - t0
        names = [i.name for i in self.session.get_inputs()]
        if len(names) != len(spec.inputs):
            raise RuntimeError(f"model.onnx takes {len(names)} inputs, expected {len(spec.inputs)}")
        self.feeds = [dict(zip(names, inputs)) for inputs in pool]

    def check(self):
        return [np.asarray(o) for o in self.session.run(None, self.feeds[0])]

    def call(self, k):
        self.session.run(None, self.feeds[k])


def measure(peer, a):
    """Warm-up for ~warmup_s, then ~time_s of timed calls; per-call times in ms."""
    k = 0
    warm = []
    start = time.perf_counter()
    while len(warm) < 2 or (time.perf_counter() - start < a.warmup_s and len(warm) < 1000):
        t0 = time.perf_counter()
        peer.call(k % POOL)
        warm.append(time.perf_counter() - t0)
        k += 1
    estimate = statistics.median(warm[1:])
    iters = int(min(a.max_iters, max(a.min_iters, a.time_s / max(estimate, 1e-6))))
    ms = []
    for _ in range(iters):
        t0 = time.perf_counter()
        peer.call(k % POOL)
        ms.append((time.perf_counter() - t0) * 1e3)
        k += 1
    return len(warm), ms


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--peer", required=True, choices=["kiln", "eager", "compile", "ort"])
    p.add_argument("--model", required=True, choices=sorted(models.SPECS))
    p.add_argument("--batch", required=True, type=int)
    p.add_argument("--work", required=True)
    p.add_argument("--threads", required=True, type=int)
    p.add_argument("--result", required=True)
    p.add_argument("--so", help="the kiln model library (kiln peer)")
    p.add_argument("--time-s", type=float, default=2.0)
    p.add_argument("--warmup-s", type=float, default=0.5)
    p.add_argument("--min-iters", type=int, default=5)
    p.add_argument("--max-iters", type=int, default=2000)
    a = p.parse_args()

    spec = models.SPECS[a.model]
    result = {"peer": a.peer, "model": a.model, "batch": a.batch, "threads": a.threads}
    try:
        if a.peer == "kiln" and not a.so:
            raise RuntimeError("--so is required for the kiln peer")
        pool = input_pool(spec, a.batch)
        if a.peer == "kiln":
            peer = KilnPeer(a, spec, pool)
        elif a.peer == "ort":
            peer = OrtPeer(a, spec, pool)
        else:
            peer = TorchPeer(a, spec, pool, compiled=a.peer == "compile")
        result["setup_s"] = round(peer.setup_s, 4)
        outputs = peer.check()
        if getattr(peer, "first_call_s", None) is not None:
            result["first_call_s"] = round(peer.first_call_s, 3)
        np.savez(a.result + ".check.npz", *outputs)
        warmup, ms = measure(peer, a)
        ms_sorted = sorted(ms)
        result.update({
            "ok": True,
            "warmup_calls": warmup,
            "calls": len(ms),
            "median_ms": statistics.median(ms),
            "p10_ms": ms_sorted[len(ms) // 10],
            "p90_ms": ms_sorted[min(len(ms) - 1, (9 * len(ms)) // 10)],
            "min_ms": ms_sorted[0],
            "mean_ms": statistics.fmean(ms),
        })
    except Exception as e:  # noqa: BLE001 - the failure is the result
        lines = str(e).strip().splitlines()
        result.update({"ok": False, "error": f"{type(e).__name__}: {lines[0] if lines else ''}"})
        traceback.print_exc()
    with open(a.result, "w") as f:
        json.dump(result, f, indent=2)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
