#!/usr/bin/env python3
"""kiln against PyTorch eager, torch.compile and ONNX Runtime on the CPU, side by side.

    python bench/run_cpu.py [--kiln PATH] [--work DIR] [--only ROWS] [--threads N] [--quick]
                            [--json-out FILE] [--md-out FILE] [--peers kiln,eager,compile,ort]
    python bench/run_cpu.py --merge A.json B.json ... [--json-out FILE] [--md-out FILE]

ROWS: comma-separated "model" (all its batches) or "model:batch" (e.g. "mlp,resnet18:8").

Per model: exports once (bench/models.py; cached in the work dir), compiles once with kiln
(dynamic batch; the compile is timed as a whole process with an empty object cache, and the
library is cached in the work dir until the .pt2 or the kiln binary change). Per row, each
peer runs in a fresh process of its own (bench/peers.py), one after the other, all with the
same thread count and the same random inputs. Prints a Markdown table and writes the same
as JSON. Any failure (export, kiln compile, a peer) is reported in its row; the run goes on.
"""

import argparse
import datetime
import hashlib
import importlib.metadata
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import models  # noqa: E402

PEERS = ["kiln", "eager", "compile", "ort"]


def cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_info(kiln):
    return {
        "cpu": cpu_model(),
        "cores": cores(),
        "os_cpu_count": os.cpu_count(),
        "host": platform.node(),
        "python": platform.python_version(),
        "torch": version("torch"),
        "onnxruntime": version("onnxruntime"),
        "numpy": version("numpy"),
        "kiln": kiln or "none",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def first_error_line(text):
    """The first line of a tool's stderr that says what went wrong (not a progress line)."""
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("[kiln]"):
            return line[:300]
    return "no message"


def _text(data):
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def kiln_identity(kiln):
    st = os.stat(kiln)
    return f"{os.path.realpath(kiln)}:{st.st_size}:{int(st.st_mtime)}"


def compile_kiln(kiln, model, work, recompile, log, timeout=1800):
    """The compiled library of one model: {"so", "compile_s", ...} or {"error"}.

    A library compiled earlier is reused while the .pt2 and the kiln binary are unchanged;
    with no kiln binary at all, a library already in the work dir is used as it is (the
    machine that runs it may have no compiler).
    """
    mdir = models.model_dir(work, model)
    pt2 = os.path.join(mdir, "model.pt2")
    so = os.path.join(mdir, "kiln.so")
    record_path = os.path.join(mdir, "kiln_compile.json")
    record = None
    if os.path.exists(record_path) and os.path.exists(so):
        with open(record_path) as f:
            record = json.load(f)
    if not kiln:
        if record and record.get("so"):
            return dict(record, so=so, reused=True)
        return {"error": "kiln: no kiln binary given (--kiln) and no library in the work dir"}
    if not os.path.exists(pt2):
        return {"error": "kiln: no model.pt2 (export failed)"}
    key = {"pt2": file_digest(pt2), "kiln": kiln_identity(kiln)}
    if record and not recompile and record.get("key") == key:
        return dict(record, so=so, reused=True)

    cache = tempfile.mkdtemp(prefix="kiln-cache-")
    cmd = [kiln, "compile", pt2, "-o", so, "--cache-dir", cache]
    log(f"  compiling {model} with kiln: {shlex.join(cmd)}")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        why = first_error_line(proc.stderr + "\n" + proc.stdout)
        if proc.returncode < 0:
            why = f"killed by signal {-proc.returncode}; {why}"
    except subprocess.TimeoutExpired as e:
        proc = subprocess.CompletedProcess(cmd, -1, _text(e.stdout), _text(e.stderr))
        why = f"timed out after {timeout} s"
    finally:
        elapsed = time.perf_counter() - t0
        shutil.rmtree(cache, ignore_errors=True)
    with open(os.path.join(mdir, "kiln_compile.log"), "w") as f:
        f.write(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        for stale in (record_path, so):
            if os.path.exists(stale):
                os.remove(stale)
        return {"error": "kiln: compile failed: " + why, "compile_s": round(elapsed, 2)}
    record = {"so": "kiln.so", "key": key, "compile_s": round(elapsed, 2),
              "so_bytes": os.path.getsize(so),
              "stages": [l for l in proc.stderr.splitlines() if l.startswith("[kiln]")],
              "summary": proc.stdout.splitlines()}
    with open(record_path, "w") as f:
        json.dump(record, f, indent=2)
    return dict(record, so=so, reused=False)


def run_peer(peer, model, batch, a, so, rdir, log):
    result = os.path.join(rdir, f"{model}_b{batch}_{peer}.json")
    for stale in (result, result + ".check.npz"):
        if os.path.exists(stale):
            os.remove(stale)
    cmd = [sys.executable, os.path.join(HERE, "peers.py"), "--peer", peer, "--model", model,
           "--batch", str(batch), "--work", a.work, "--threads", str(a.threads),
           "--result", result, "--time-s", str(a.time_s), "--warmup-s", str(a.warmup_s),
           "--min-iters", str(a.min_iters)]
    if so:
        cmd += ["--so", so]
    env = dict(os.environ)
    if peer == "compile":
        # A cold Inductor cache, as kiln's compile gets an empty object cache.
        env["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor-")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=a.timeout)
        stderr = proc.stderr
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timed out after {a.timeout} s"}
    finally:
        if peer == "compile":
            shutil.rmtree(env["TORCHINDUCTOR_CACHE_DIR"], ignore_errors=True)
    wall = time.perf_counter() - t0
    with open(result + ".log", "w") as f:
        f.write(proc.stdout + stderr)
    if not os.path.exists(result):
        return {"ok": False, "error": f"exit {proc.returncode}: {first_error_line(stderr)}"}
    with open(result) as f:
        r = json.load(f)
    r["process_s"] = round(wall, 2)
    if r.get("ok"):
        log(f"    {peer:8s} {r['median_ms']:9.3f} ms  ({r['calls']} calls, process {wall:.1f} s)")
    else:
        log(f"    {peer:8s} failed: {r.get('error')}")
    return r


def max_rel_err(got_path, want_path):
    """max |got - want| / max |want| over all outputs (None if either is missing)."""
    if not (os.path.exists(got_path) and os.path.exists(want_path)):
        return None
    got, want = np.load(got_path), np.load(want_path)
    if sorted(got.files) != sorted(want.files):
        return float("inf")
    worst = 0.0
    for name in want.files:
        g, w = got[name].astype(np.float64), want[name].astype(np.float64)
        if g.shape != w.shape:
            return float("inf")
        if w.size == 0:
            continue
        if not np.all(np.isfinite(g)) and np.all(np.isfinite(w)):
            return float("inf")
        scale = max(float(np.max(np.abs(w))), 1e-30)
        worst = max(worst, float(np.max(np.abs(g - w))) / scale)
    return worst


def parse_rows(only):
    rows = []
    if not only:
        return [(m, b) for m, s in models.SPECS.items() for b in s.batches]
    for item in only.split(","):
        item = item.strip()
        if not item:
            continue
        name, _, batch = item.partition(":")
        if name not in models.SPECS:
            raise SystemExit(f"--only: unknown model '{name}'; known: {', '.join(models.SPECS)}")
        spec = models.SPECS[name]
        if batch:
            if not batch.isdigit() or not 1 <= int(batch) <= spec.max_batch:
                raise SystemExit(f"--only: batch '{batch}' of {name} must be 1..{spec.max_batch}")
            rows.append((name, int(batch)))
        else:
            rows += [(name, b) for b in spec.batches]
    return rows


def fmt_ms(r):
    if r is None:
        return "-"
    return f"{r['median_ms']:.3f}" if r.get("ok") else "failed"


def fmt_ratio(num, den):
    if num and den and num.get("ok") and den.get("ok"):
        return f"{num['median_ms'] / den['median_ms']:.2f}"
    return "-"


def markdown(report):
    m = report["machine"]
    out = [
        f"## kiln CPU benchmark, {m['date']}",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores available (os.cpu_count {m['os_cpu_count']}); "
        f"threads per peer: {report['threads']}",
        f"- torch {m['torch']}, onnxruntime {m['onnxruntime']}, numpy {m['numpy']}, "
        f"python {m['python']}",
        f"- kiln: {m['kiln']}",
        f"- command: `{report['command']}`",
        f"- latency: median of per-call wall times after warm-up, fresh random inputs each call "
        f"(~{report['time_s']} s of timed calls per peer and row); ratios < 1 mean kiln is faster; "
        f"rel err = max|kiln - eager| / max|eager| on the check input",
        "",
        "| model | batch | kiln ms | eager ms | compile ms | ORT ms | kiln/compile | kiln/ORT "
        "| kiln max rel err | notes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in report["rows"]:
        p = row["peers"]
        err = row.get("kiln_max_rel_err")
        err_text = "-" if err is None else f"{err:.2e}"
        notes = "; ".join(row["notes"]).replace("|", "\\|")
        cells = [row["model"], str(row["batch"])]
        cells += [fmt_ms(p.get(peer)) for peer in PEERS]
        cells += [fmt_ratio(p.get("kiln"), p.get("compile")), fmt_ratio(p.get("kiln"), p.get("ort"))]
        cells += [err_text, notes]
        out.append("| " + " | ".join(cells) + " |")
    out += ["", "Compile times (whole process, cold caches):", "",
            "| model | batch | kiln compile s | torch.compile first call s | ORT session s |",
            "| --- | ---: | ---: | ---: | ---: |"]
    for row in report["rows"]:
        k = report["kiln_compiles"].get(row["model"], {})
        ks = "-" if "compile_s" not in k else f"{k['compile_s']:.2f}" + (
            " (earlier run)" if k.get("reused") else "")
        if "error" in k:
            ks = "failed" + (f" after {k['compile_s']:.2f}" if "compile_s" in k else "")
        c = row["peers"].get("compile") or {}
        o = row["peers"].get("ort") or {}
        cs = f"{c['first_call_s']:.2f}" if "first_call_s" in c else "-"
        os_ = f"{o['setup_s']:.2f}" if "setup_s" in o else "-"
        out.append(f"| {row['model']} | {row['batch']} | {ks} | {cs} | {os_} |")
    return "\n".join(out) + "\n"


def merge(paths):
    """One report from several runs' JSON (e.g. a long run split with --only)."""
    reports = []
    for path in paths:
        with open(path) as f:
            reports.append(json.load(f))
    merged = dict(reports[0], rows=[], kiln_compiles={}, exports={})
    merged["command"] = " ; ".join(r["command"] for r in reports)
    rows = {}  # a row measured again replaces the earlier one
    for r in reports:
        if r["machine"]["cpu"] != merged["machine"]["cpu"] or r["threads"] != merged["threads"]:
            raise SystemExit(f"--merge: {r['command']} ran on another CPU or thread count")
        for row in r["rows"]:
            rows[(row["model"], row["batch"])] = row
        merged["kiln_compiles"].update(r["kiln_compiles"])
        merged["exports"].update(r["exports"])
    merged["rows"] = list(rows.values())
    return merged


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kiln", help="the kiln binary (default: $KILN, else kiln on PATH); without "
                   "one, libraries already compiled into the work dir are used")
    p.add_argument("--work", default=os.path.join(HERE, ".work"), help="work dir (exports, "
                   "libraries, per-peer results); default bench/.work")
    p.add_argument("--only", default="", help="rows: model or model:batch, comma-separated")
    p.add_argument("--threads", type=int, default=cores(), help="threads for every peer "
                   "(default: every core this process may use)")
    p.add_argument("--peers", default=",".join(PEERS), help="which peers to run")
    p.add_argument("--quick", action="store_true", help="short timing (smoke test)")
    p.add_argument("--time-s", type=float, help="seconds of timed calls per peer and row")
    p.add_argument("--recompile", action="store_true", help="compile with kiln even if cached")
    p.add_argument("--timeout", type=int, default=1800, help="seconds per peer process")
    p.add_argument("--json-out", help="write the report as JSON here")
    p.add_argument("--md-out", help="write the Markdown table here too")
    p.add_argument("--merge", nargs="+", metavar="JSON", help="print one table from the JSON "
                   "reports of earlier runs (same machine) instead of running")
    a = p.parse_args()
    if a.merge:
        report = merge(a.merge)
        write_outputs(report, a)
        return 0

    a.time_s = a.time_s or (0.5 if a.quick else 2.0)
    a.warmup_s = 0.2 if a.quick else 0.5
    a.min_iters = 3 if a.quick else 10
    a.work = os.path.abspath(a.work)
    if a.threads < 1:
        raise SystemExit("--threads must be >= 1")
    peers = [x for x in a.peers.split(",") if x]
    bad = [x for x in peers if x not in PEERS]
    if bad:
        raise SystemExit(f"--peers: unknown {', '.join(bad)}; known: {', '.join(PEERS)}")
    kiln = a.kiln or os.environ.get("KILN") or shutil.which("kiln")
    if kiln:
        kiln = os.path.abspath(kiln)
        if not os.access(kiln, os.X_OK):
            raise SystemExit(f"--kiln: {kiln} is not an executable file")
    rows = parse_rows(a.only)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    os.makedirs(a.work, exist_ok=True)
    rdir = os.path.join(a.work, "results")
    os.makedirs(rdir, exist_ok=True)
    report = {
        "machine": machine_info(kiln),
        "command": shlex.join([os.path.basename(sys.executable)] + sys.argv),
        "threads": a.threads,
        "time_s": a.time_s,
        "work": a.work,
        "kiln_compiles": {},
        "exports": {},
        "rows": [],
    }
    for model in dict.fromkeys(m for m, _ in rows):
        log(f"{model}:")
        proc = subprocess.run([sys.executable, os.path.join(HERE, "models.py"), "--work", a.work,
                               "--only", model], capture_output=True, text=True)
        meta_path = os.path.join(models.model_dir(a.work, model), "meta.json")
        meta = {}
        if os.path.exists(meta_path):
            with open(meta_path) as f:
                meta = json.load(f)
        else:
            meta = {"files": [], "errors": {"export": first_error_line(proc.stderr)}}
        report["exports"][model] = meta
        for kind, err in meta.get("errors", {}).items():
            log(f"  {kind} export failed: {err}")
        if "kiln" in peers:
            c = compile_kiln(kiln, model, a.work, a.recompile, log, a.timeout)
            report["kiln_compiles"][model] = {k: v for k, v in c.items() if k != "so"}
            log("  kiln: " + (c["error"] if "error" in c else
                             f"{'reused library compiled in' if c['reused'] else 'compiled in'} "
                             f"{c['compile_s']:.2f} s"))

    for model, batch in rows:
        log(f"{model} batch {batch}:")
        meta = report["exports"][model]
        row = {"model": model, "batch": batch, "peers": {}, "notes": []}
        for peer in peers:
            if peer == "kiln":
                c = report["kiln_compiles"][model]
                if "error" in c:
                    row["notes"].append(c["error"])
                    row["peers"]["kiln"] = {"ok": False, "error": c["error"]}
                    continue
                so = os.path.join(models.model_dir(a.work, model), "kiln.so")
            else:
                so = None
            if peer == "ort" and "model.onnx" not in meta.get("files", []):
                err = meta.get("errors", {}).get("onnx", "no model.onnx")
                row["notes"].append(f"ORT: onnx export failed: {err}")
                row["peers"]["ort"] = {"ok": False, "error": err}
                continue
            r = run_peer(peer, model, batch, a, so, rdir, log)
            row["peers"][peer] = r
            if not r.get("ok"):
                row["notes"].append(f"{peer}: {r.get('error')}")
        base = os.path.join(rdir, f"{model}_b{batch}_")
        for peer in ("kiln", "compile", "ort"):
            if row["peers"].get(peer, {}).get("ok"):
                err = max_rel_err(base + f"{peer}.json.check.npz", base + "eager.json.check.npz")
                row[f"{peer}_max_rel_err"] = err
        if row.get("kiln_max_rel_err") is not None and row["kiln_max_rel_err"] > 1e-3:
            row["notes"].append(f"kiln output differs from eager (rel err "
                                f"{row['kiln_max_rel_err']:.2e})")
        report["rows"].append(row)

    write_outputs(report, a)
    return 0


def write_outputs(report, a):
    text = markdown(report)
    print(text)
    if a.md_out:
        with open(a.md_out, "w") as f:
            f.write(text)
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
