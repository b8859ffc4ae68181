#!/usr/bin/env python3
"""Cold start and peak memory of a process serving a model: kiln against PyTorch and ORT.

    python bench/cold_start.py [--work DIR] [--kiln PATH] [--model resnet18] [--threads N]
                               [--repeat R] [--iters N] [--batch-rss 8] [--serve PATH]
                               [--aoti] [--quick] [--json-out FILE]

Cold start: process start -> model loaded -> first result ready, each variant in a fresh
process, timed from just before the parent starts it to the child's CLOCK_MONOTONIC stamp
taken right after the first result (batch 1). The page cache is warm (one untimed run
first); the median of --repeat runs is reported.
  kiln          bench/kiln_serve (C++): dlopen the .so, create the container, run
  kiln+python   python: import numpy + ctypes, load the .so, run (bench/kiln_ctypes.py)
  torch.export  python: import torch, torch.export.load(model.pt2).module(), run
  eager         python: import torch + torchvision, build the nn.Module, load weights, run
  ort           python: import onnxruntime, InferenceSession(model.onnx), run
  aoti          (--aoti) python: import torch, aoti_load_package(model.aoti.pt2), run; the
                package is built once by torch._inductor.aoti_compile_and_package (timed)

Peak RSS: a process that loads the model and serves --iters calls at batch --batch-rss;
ru_maxrss of that child from wait4, for kiln (C++ host), eager, torch.export and ORT.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def now_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


# ---------------------------------------------------------------------------------------------
# Child side: each variant imports only what it needs, after the process has started.
# ---------------------------------------------------------------------------------------------


def child(kind, work, model, batch, iters, threads):
    sys.path.insert(0, HERE)
    mdir = os.path.join(work, model)
    if kind == "kiln+python":
        import numpy as np
        import kiln_ctypes

        m = kiln_ctypes.KilnModel(os.path.join(mdir, "kiln.so"), num_threads=threads)
        shape = _shape(mdir, batch)
        call = m.bind([np.random.default_rng(0).standard_normal(shape, dtype=np.float32)])
        out = m.run(call)
        first = now_ns()
        for _ in range(iters - 1):
            m.run_discard(call)
        return first, float(out[0].sum())
    if kind == "ort":
        import numpy as np
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        s = ort.InferenceSession(os.path.join(mdir, "model.onnx"), options,
                                 providers=["CPUExecutionProvider"])
        feed = {s.get_inputs()[0].name:
                np.random.default_rng(0).standard_normal(_shape(mdir, batch), dtype=np.float32)}
        out = s.run(None, feed)
        first = now_ns()
        for _ in range(iters - 1):
            s.run(None, feed)
        return first, float(out[0].sum())

    import torch

    torch.set_num_threads(threads)
    if kind == "torch.export":
        fn = torch.export.load(os.path.join(mdir, "model.pt2")).module()
    elif kind == "aoti":
        import torch._inductor

        fn = torch._inductor.aoti_load_package(os.path.join(mdir, "model.aoti.pt2"))
    elif kind == "eager":
        import models

        fn = models.load_eager(models.SPECS[model], work)
    else:
        raise SystemExit(f"unknown child kind {kind}")
    x = torch.randn(*_shape(mdir, batch), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        out = fn(x)
        first = now_ns()
        for _ in range(iters - 1):
            fn(x)
    out = out[0] if isinstance(out, (list, tuple)) else out
    return first, float(out.sum())


def _shape(mdir, batch):
    with open(os.path.join(mdir, "meta.json")) as f:
        meta = json.load(f)
    return [batch if d == "B" else d for d in meta["inputs"][0]["shape"]]


# ---------------------------------------------------------------------------------------------
# Parent side
# ---------------------------------------------------------------------------------------------


class Runner:
    def __init__(self, a):
        self.a = a

    def command(self, kind, batch, iters):
        a = self.a
        mdir = os.path.join(a.work, a.model)
        if kind == "kiln":
            shape = ",".join(str(d) for d in _shape(mdir, batch))
            return [a.serve, os.path.join(mdir, "kiln.so"), "--shape", shape, "--iters",
                    str(iters), "--threads", str(a.threads)]
        return [sys.executable, os.path.abspath(__file__), "--child", kind, "--work", a.work,
                "--model", a.model, "--batch", str(batch), "--iters", str(iters),
                "--threads", str(a.threads)]

    def once(self, kind, batch, iters):
        # Popen + communicate + wait4 would race: communicate() reaps. So reap by hand.
        cmd = self.command(kind, batch, iters)
        start = now_ns()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out_chunks, err_chunks = _drain(proc)
        _, status, usage = os.wait4(proc.pid, 0)
        end = now_ns()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out, err = out_chunks.decode(), err_chunks.decode()
        if proc.returncode != 0:
            lines = [l for l in err.strip().splitlines() if l.strip()]
            raise RuntimeError(f"{kind}: exit {proc.returncode}: {lines[-1] if lines else ''}")
        line = [l for l in out.splitlines() if l.startswith("{")][-1]
        r = json.loads(line)
        return {
            "first_result_s": (r["first_result_ns"] - start) / 1e9,
            "process_s": (end - start) / 1e9,
            "maxrss_mib": usage.ru_maxrss / 1024.0,
            "checksum": r.get("checksum"),
        }


def _drain(proc):
    """Reads stdout and stderr to the end without waiting for the process."""
    import selectors

    sel = selectors.DefaultSelector()
    bufs = {proc.stdout: bytearray(), proc.stderr: bytearray()}
    for f in bufs:
        sel.register(f, selectors.EVENT_READ)
    while sel.get_map():
        for key, _ in sel.select():
            chunk = os.read(key.fileobj.fileno(), 65536)
            if chunk:
                bufs[key.fileobj] += chunk
            else:
                sel.unregister(key.fileobj)
                key.fileobj.close()
    return bytes(bufs[proc.stdout]), bytes(bufs[proc.stderr])


def ensure_serve(a, log):
    if a.serve and os.path.exists(a.serve):
        return a.serve
    build = os.path.join(a.work, "serve-build")
    exe = os.path.join(build, "kiln_serve")
    if os.path.exists(exe) and os.path.getmtime(exe) >= os.path.getmtime(
            os.path.join(HERE, "kiln_serve.cpp")):
        return exe
    os.makedirs(build, exist_ok=True)
    if shutil.which("cmake"):
        log("building kiln_serve with cmake")
        subprocess.run(["cmake", "-S", HERE, "-B", build, "-DCMAKE_BUILD_TYPE=Release"],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["cmake", "--build", build], check=True, stdout=subprocess.DEVNULL)
    else:
        cxx = os.environ.get("CXX", "c++")
        log(f"building kiln_serve with {cxx}")
        subprocess.run([cxx, "-O2", "-std=c++20", "-I", os.path.join(REPO, "include"),
                        os.path.join(HERE, "kiln_serve.cpp"), "-o", exe, "-ldl"], check=True)
    return exe


def build_aoti(a, log):
    """Builds the AOTInductor package once (timed as a whole process); returns seconds or None."""
    mdir = os.path.join(a.work, a.model)
    pkg = os.path.join(mdir, "model.aoti.pt2")
    if os.path.exists(pkg) and os.path.getmtime(pkg) >= os.path.getmtime(
            os.path.join(mdir, "model.pt2")):
        return None
    code = ("import torch, torch._inductor, sys\n"
            "ep = torch.export.load(sys.argv[1])\n"
            "torch._inductor.aoti_compile_and_package(ep, package_path=sys.argv[2])\n")
    log("building the AOTInductor package (once)")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, os.path.join(mdir, "model.pt2"), pkg], check=True)
    return time.perf_counter() - t0


def measure(runner, kinds, batch, iters, repeat, log):
    out = {}
    for kind in kinds:
        try:
            runner.once(kind, batch, iters)  # untimed: warms the page cache
            runs = [runner.once(kind, batch, iters) for _ in range(repeat)]
        except Exception as e:  # noqa: BLE001 - reported per variant
            out[kind] = {"error": str(e)[:300]}
            log(f"  {kind:13s} failed: {out[kind]['error']}")
            continue
        out[kind] = {
            "first_result_s": statistics.median(r["first_result_s"] for r in runs),
            "first_result_min_s": min(r["first_result_s"] for r in runs),
            "process_s": statistics.median(r["process_s"] for r in runs),
            "maxrss_mib": max(r["maxrss_mib"] for r in runs),
            "checksum": runs[0]["checksum"],
            "runs": len(runs),
        }
        r = out[kind]
        log(f"  {kind:13s} first result {r['first_result_s']:.3f} s, process "
            f"{r['process_s']:.3f} s, peak RSS {r['maxrss_mib']:.0f} MiB")
    return out


def markdown(report):
    lines = [f"## Cold start and peak RSS: {report['model']}, {report['date']}", "",
             f"- CPU: {report['cpu']}, threads {report['threads']}; torch {report['torch']}, "
             f"onnxruntime {report['onnxruntime']}",
             f"- command: `{report['command']}`", "",
             f"Cold start (batch {report['batch_cold']}, warm page cache, median of "
             f"{report['repeat']}):", "",
             "| variant | process start -> first result s | whole process s | peak RSS MiB |",
             "| --- | ---: | ---: | ---: |"]
    for kind, r in report["cold_start"].items():
        if "error" in r:
            lines.append(f"| {kind} | failed: {r['error'][:120]} | | |")
        else:
            lines.append(f"| {kind} | {r['first_result_s']:.3f} | {r['process_s']:.3f} "
                         f"| {r['maxrss_mib']:.0f} |")
    k = report["kiln_compile"]
    if "compile_s" in k:
        lines += ["", f"kiln compile (once, not in the cold start): {k['compile_s']:.1f} s"
                      + (" (an earlier run)" if k.get("reused") else "")]
    if report.get("aoti_build_s") is not None:
        lines += ["", f"AOTInductor package build (once, not in the cold start): "
                      f"{report['aoti_build_s']:.1f} s"]
    lines += ["", f"Peak RSS serving {report['iters_rss']} calls at batch {report['batch_rss']}:",
              "", "| variant | peak RSS MiB | whole process s |", "| --- | ---: | ---: |"]
    for kind, r in report["rss"].items():
        if "error" in r:
            lines.append(f"| {kind} | failed: {r['error'][:120]} | |")
        else:
            lines.append(f"| {kind} | {r['maxrss_mib']:.0f} | {r['process_s']:.2f} |")
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--work", default=os.path.join(HERE, ".work"))
    p.add_argument("--kiln", help="the kiln binary, to compile the model if needed")
    p.add_argument("--model", default="resnet18")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--iters", type=int, default=20, help="calls served for peak RSS")
    p.add_argument("--batch-rss", type=int, default=8)
    p.add_argument("--serve", help="the kiln_serve binary (built from bench/ if not given)")
    p.add_argument("--aoti", action="store_true", help="also measure an AOTInductor package")
    p.add_argument("--quick", action="store_true", help="fewer repeats and calls")
    p.add_argument("--json-out")
    p.add_argument("--md-out")
    a = p.parse_args()
    a.work = os.path.abspath(a.work)

    if a.child:
        first, checksum = child(a.child, a.work, a.model, a.batch, a.iters, a.threads)
        print(json.dumps({"first_result_ns": first, "checksum": checksum}), flush=True)
        return 0

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    if a.quick:
        a.repeat, a.iters = min(a.repeat, 2), min(a.iters, 5)
    sys.path.insert(0, HERE)
    import run_cpu

    subprocess.run([sys.executable, os.path.join(HERE, "models.py"), "--work", a.work, "--only",
                    a.model], check=True, stdout=subprocess.DEVNULL)
    kiln = a.kiln or os.environ.get("KILN") or shutil.which("kiln")
    compiled = run_cpu.compile_kiln(os.path.abspath(kiln) if kiln else None, a.model, a.work,
                                    False, log)
    kinds = ["kiln", "kiln+python", "torch.export", "eager", "ort"]
    if "error" in compiled:
        log(compiled["error"])
        kinds = [k for k in kinds if not k.startswith("kiln")]
    else:
        a.serve = ensure_serve(a, log)
    report = {
        "model": a.model,
        "date": run_cpu.machine_info(kiln)["date"],
        "cpu": run_cpu.cpu_model(),
        "threads": a.threads,
        "torch": run_cpu.version("torch"),
        "onnxruntime": run_cpu.version("onnxruntime"),
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "kiln_compile": {k: v for k, v in compiled.items() if k != "so"},
        "batch_cold": 1,
        "repeat": a.repeat,
        "batch_rss": a.batch_rss,
        "iters_rss": a.iters,
    }
    if a.aoti:
        try:
            report["aoti_build_s"] = build_aoti(a, log)
            kinds.append("aoti")
        except subprocess.CalledProcessError as e:
            report["aoti_error"] = str(e)
            log(f"AOTInductor build failed: {e}")
    runner = Runner(a)
    log(f"cold start, {a.model} batch 1:")
    report["cold_start"] = measure(runner, kinds, 1, 1, a.repeat, log)
    log(f"peak RSS, {a.model} batch {a.batch_rss}, {a.iters} calls:")
    rss_kinds = [k for k in kinds if k != "kiln+python"]
    report["rss"] = measure(runner, rss_kinds, a.batch_rss, a.iters, 1, log)
    if "error" in compiled:
        report["cold_start"]["kiln"] = report["rss"]["kiln"] = {"error": compiled["error"]}

    text = markdown(report)
    print(text)
    if a.md_out:
        with open(a.md_out, "w") as f:
            f.write(text)
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
