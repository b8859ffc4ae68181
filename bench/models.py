#!/usr/bin/env python3
"""The CPU benchmark models, and their export to .pt2 (torch.export) and ONNX.

Usage (run_cpu.py calls this itself; standalone it only exports):
    python bench/models.py --work DIR [--only mlp,gpt4] [--force]

Per model, DIR/<model>/ holds:
    model.pt2     torch.export.save of the program (dynamic batch)
    model.onnx    torch.onnx.export(..., dynamo=True) of the same module (dynamic batch)
    weights.pt    the module's state_dict, so every peer runs the very same weights
    meta.json     torch version, input specs, export times, any export error

Weights are random (fixed seeds), never pretrained: the harness measures speed and checks
kiln against eager on the same weights, which needs no download.
"""

import argparse
import copy
import json
import os
import sys
import time
import traceback

import numpy as np

# Only what importing this module needs; torch is imported where a model is built, so that
# the kiln peer (which shares input generation with the others) never loads torch.


class ModelSpec:
    """One benchmark model.

    build(): the nn.Module (called after torch.manual_seed(seed)), in eval mode.
    inputs: per input, (name, shape with "B" for the batch dim, numpy dtype).
    batches: the batch sizes benchmarked by default.
    max_batch: the upper bound of the dynamic batch dim in the export.
    """

    def __init__(self, name, build, inputs, batches, max_batch, description):
        self.name = name
        self.build = build
        self.inputs = inputs
        self.batches = batches
        self.max_batch = max_batch
        self.description = description


def _randomize_norms(model, seed):
    """Non-trivial batch-norm statistics and affine parameters, so that a wrong norm shows."""
    import torch
    import torch.nn as nn

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * 0.1 + 1.0)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return model


def build_resnet18():
    import torchvision

    return _randomize_norms(torchvision.models.resnet18(weights=None), seed=1).eval()


def build_mobilenet_v2():
    import torchvision

    return _randomize_norms(torchvision.models.mobilenet_v2(weights=None), seed=2).eval()


def build_mlp():
    import torch.nn as nn
    import torch.nn.functional as F

    class Mlp(nn.Module):
        """1024 -> 4096 -> 4096 -> 1024 with GELU, ReLU and a softmax over the last dim."""

        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(1024, 4096)
            self.fc2 = nn.Linear(4096, 4096)
            self.fc3 = nn.Linear(4096, 1024)

        def forward(self, x):
            x = F.gelu(self.fc1(x))
            x = F.relu(self.fc2(x))
            return F.softmax(self.fc3(x), dim=-1)

    return Mlp().eval()


def build_gpt4():
    import torch.nn as nn
    import torch.nn.functional as F

    d, heads, layers = 768, 12, 4

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)

        def forward(self, x):
            b, t, _ = x.shape
            q, k, v = self.qkv(x).split(d, dim=2)
            q = q.view(b, t, heads, d // heads).transpose(1, 2)
            k = k.view(b, t, heads, d // heads).transpose(1, 2)
            v = v.view(b, t, heads, d // heads).transpose(1, 2)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.proj(y.transpose(1, 2).reshape(b, t, d))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(d)
            self.attn = CausalSelfAttention()
            self.ln2 = nn.LayerNorm(d)
            self.fc = nn.Linear(d, 4 * d)
            self.out = nn.Linear(4 * d, d)

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            return x + self.out(F.gelu(self.fc(self.ln2(x))))

    class Decoder(nn.Module):
        """A GPT-2-style pre-norm decoder stack over hidden states [B, 128, 768]."""

        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList(Block() for _ in range(layers))
            self.ln_f = nn.LayerNorm(d)

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return self.ln_f(x)

    return _randomize_norms(Decoder(), seed=3).eval()


SPECS = {
    s.name: s
    for s in [
        ModelSpec("resnet18", build_resnet18, [("x", ("B", 3, 224, 224), np.float32)], [1, 8], 16,
                  "torchvision resnet18, random weights, eval, 224x224"),
        ModelSpec("mlp", build_mlp, [("x", ("B", 1024), np.float32)], [1, 32, 256], 512,
                  "MLP 1024-4096-4096-1024, GELU, ReLU, softmax"),
        ModelSpec("gpt4", build_gpt4, [("x", ("B", 128, 768), np.float32)], [1, 8], 16,
                  "4-block GPT-style decoder, d=768, 12 heads, seq 128, causal SDPA, fp32"),
        ModelSpec("mobilenet_v2", build_mobilenet_v2, [("x", ("B", 3, 224, 224), np.float32)],
                  [1], 16, "torchvision mobilenet_v2, random weights, eval, 224x224"),
    ]
}


def make_inputs(spec, batch, seed):
    """Random inputs for one call (standard normal), the same in every process for a seed."""
    rng = np.random.default_rng(seed)
    out = []
    for _, shape, dtype in spec.inputs:
        dims = [batch if d == "B" else d for d in shape]
        out.append(rng.standard_normal(dims, dtype=np.float32).astype(dtype))
    return out


def model_dir(work, name):
    return os.path.join(work, name)


def build_module(spec):
    """The spec's module with its deterministic random initialization."""
    import torch

    torch.manual_seed(0)
    return spec.build()


def load_eager(spec, work):
    """The module with the weights saved at export time (identical to the .pt2 and .onnx)."""
    import torch

    module = build_module(spec)
    state = torch.load(os.path.join(model_dir(work, spec.name), "weights.pt"), weights_only=True)
    module.load_state_dict(state)
    return module.eval()


def _dynamic_shapes(spec):
    from torch.export import Dim

    batch = Dim("batch", min=1, max=spec.max_batch)
    return tuple({i: batch for i, d in enumerate(shape) if d == "B"} for _, shape, _ in spec.inputs)


def _first_line(e):
    lines = str(e).strip().splitlines()
    return f"{type(e).__name__}: {lines[0] if lines else ''}"[:300]


def _strip_stack_traces(ep):
    # Local paths in stack traces would otherwise end up in the archive.
    for module in ep.graph_module.modules():
        if hasattr(module, "graph"):
            for node in module.graph.nodes:
                node.meta.pop("stack_trace", None)


def export(spec, work, force=False):
    """Exports one model into work/<name>/ unless already there; returns its meta dict."""
    import torch

    out = model_dir(work, spec.name)
    meta_path = os.path.join(out, "meta.json")
    if not force and os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        if all(os.path.exists(os.path.join(out, f)) for f in meta.get("files", [])):
            return meta
    os.makedirs(out, exist_ok=True)
    module = build_module(spec)
    torch.save(module.state_dict(), os.path.join(out, "weights.pt"))
    # The example batch is 2: a batch of 1 would be specialized by export.
    args = tuple(torch.from_numpy(a) for a in make_inputs(spec, 2, seed=0))
    meta = {
        "model": spec.name,
        "description": spec.description,
        "torch": torch.__version__,
        "inputs": [{"name": n, "shape": list(s), "dtype": np.dtype(t).name}
                   for n, s, t in spec.inputs],
        "max_batch": spec.max_batch,
        "files": ["weights.pt"],
        "errors": {},
    }

    t0 = time.perf_counter()
    try:
        ep = torch.export.export(copy.deepcopy(module), args, dynamic_shapes=_dynamic_shapes(spec),
                                 strict=False)
        _strip_stack_traces(ep)
        torch.export.save(ep, os.path.join(out, "model.pt2"))
        meta["files"].append("model.pt2")
        meta["export_s"] = round(time.perf_counter() - t0, 3)
    except Exception as e:  # noqa: BLE001 - reported per model, the run goes on
        meta["errors"]["pt2"] = _first_line(e)
        traceback.print_exc()

    t0 = time.perf_counter()
    try:
        onnx_path = os.path.join(out, "model.onnx")
        torch.onnx.export(copy.deepcopy(module), args, onnx_path, dynamo=True,
                          dynamic_shapes=_dynamic_shapes(spec),
                          input_names=[n for n, _, _ in spec.inputs], external_data=False)
        meta["files"].append("model.onnx")
        meta["onnx_export_s"] = round(time.perf_counter() - t0, 3)
    except Exception as e:  # noqa: BLE001
        meta["errors"]["onnx"] = _first_line(e)
        traceback.print_exc()

    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=2)
    return meta


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", required=True, help="work directory for the exports")
    parser.add_argument("--only", default="", help="comma-separated model names")
    parser.add_argument("--force", action="store_true", help="export again even if cached")
    parser.add_argument("--list", action="store_true", help="list the models and exit")
    a = parser.parse_args()
    if a.list:
        for s in SPECS.values():
            print(f"{s.name:14s} batches {s.batches}  {s.description}")
        return 0
    names = [n for n in a.only.split(",") if n] or list(SPECS)
    unknown = [n for n in names if n not in SPECS]
    if unknown:
        print(f"unknown model(s): {', '.join(unknown)}; known: {', '.join(SPECS)}",
              file=sys.stderr)
        return 2
    failed = False
    for n in names:
        meta = export(SPECS[n], a.work, a.force)
        for kind, err in meta["errors"].items():
            print(f"{n}: {kind} export failed: {err}", file=sys.stderr)
            failed = True
        print(f"{n}: {', '.join(meta['files'])} in {model_dir(a.work, n)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
