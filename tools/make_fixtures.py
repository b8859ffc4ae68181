#!/usr/bin/env python3
"""Generate kiln's test fixtures: torch.export archives plus inputs and eager outputs.

Usage:
    python tools/make_fixtures.py --out tests/fixtures [--only NAME,...] [--list]

Writes <out>/torch<MAJOR.MINOR>/<model>/{model.pt2, manifest.json, case<k>_in<i>.npy,
case<k>_out<j>.npy} and <out>/torch<MAJOR.MINOR>/index.json.  See tests/fixtures/README.md.

Runs on CPU only, single-threaded, with fixed seeds.  It works with torch >= 2.9
(tested with 2.11 and 2.15).  A model that fails to export, save, reload or match its
eager outputs is reported and recorded under "skipped" in index.json; the run goes on.
"""

import os
import sys

# Deterministic output: export iterates sets of sympy symbols (e.g. the order of
# range_constraints in model.json), which depends on str hashing.  Re-run ourselves
# with a fixed hash seed.
if __name__ == "__main__" and os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

# Force CPU before torch is imported (so tensor_meta.device is "cpu" everywhere).
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import argparse
import copy
import json
import math
import platform
import re
import shutil
import traceback
import zipfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.export import Dim
from torch.utils._pytree import tree_flatten

torch.set_num_threads(1)  # bit-reproducible eager outputs on one machine

FORBIDDEN = [b"/work/", b"/root/", b"site-packages", b"/home/"]

DTYPE_SHORT = {
    torch.float32: "f32",
    torch.float16: "f16",
    torch.bfloat16: "bf16",
    torch.float64: "f64",
    torch.int64: "i64",
    torch.int32: "i32",
    torch.int16: "i16",
    torch.int8: "i8",
    torch.uint8: "u8",
    torch.bool: "b8",
}
SHORT_DTYPE = {v: k for k, v in DTYPE_SHORT.items()}


# ----------------------------------------------------------------------------------------
# Input helpers (all draw from an explicit, seeded generator)
# ----------------------------------------------------------------------------------------


class Inputs:
    def __init__(self, seed):
        self.g = torch.Generator().manual_seed(seed)

    def randn(self, *shape, dtype=torch.float32, scale=1.0):
        return (torch.randn(*shape, generator=self.g) * scale).to(dtype)

    def nonzero(self, *shape, dtype=torch.float32, margin=0.5):
        """Normal values pushed away from zero (|v| >= margin): safe divisors."""
        t = torch.randn(*shape, generator=self.g)
        return (torch.sign(t) * (t.abs() + margin) + (t == 0) * margin).to(dtype)

    def randint(self, low, high, *shape, dtype=torch.int64):
        t = torch.randint(low, high, shape, generator=self.g, dtype=torch.int64)
        if t.numel() >= 2 and high - low >= 2 and bool((t == t.flatten()[0]).all()):
            t.view(-1)[1] = low if int(t.flatten()[0]) != low else low + 1
        return t.to(dtype)

    def randbool(self, *shape, true_last_row=False):
        t = torch.rand(*shape, generator=self.g) < 0.5
        if t.numel() >= 2:  # never all True / all False
            t.view(-1)[0] = True
            t.view(-1)[1] = False
        if true_last_row and t.dim() >= 2 and t.shape[0] >= 2:
            t[-1] = True  # so row-wise all() / sum() see a full row too
        return t

    def rand(self, *shape, low=0.0, high=1.0):
        return torch.rand(*shape, generator=self.g) * (high - low) + low


def randomize_norms(model):
    """Give norm layers non-trivial affine params / running stats (uses the global RNG).

    Values are drawn in float32 and then cast, so bf16/f16 layers get the same numbers
    on every torch version (in-place normal_ on a bf16 tensor is not stable across versions).
    """

    def fill(t, mean, std):
        t.copy_((torch.randn(t.shape) * std + mean).to(t.dtype))

    def fill_uniform(t, low, high):
        t.copy_((torch.rand(t.shape) * (high - low) + low).to(t.dtype))

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                if m.running_mean is not None:
                    fill(m.running_mean, 0.0, 0.1)
                    fill_uniform(m.running_var, 0.5, 1.5)
            norm_types = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm,
                          nn.modules.instancenorm._InstanceNorm)
            if hasattr(nn, "RMSNorm"):
                norm_types += (nn.RMSNorm,)
            if isinstance(m, norm_types):
                if getattr(m, "weight", None) is not None:
                    fill(m.weight, 1.0, 0.1)
                if getattr(m, "bias", None) is not None:
                    fill(m.bias, 0.0, 0.1)
    return model


class Spec:
    """What make_one() needs for one model.

    build(): returns the nn.Module (called after torch.manual_seed(seed)).
    make_inputs(inp, **dims): returns the tuple of positional inputs for one case.
    cases: list of dim dicts; cases[0] is also the export example.
    dynamic_shapes: list of alternatives tried in order (the first that exports wins);
      each is a callable returning the dynamic_shapes argument (fresh Dim objects).
    """

    def __init__(self, name, description, build, make_inputs, cases, dynamic_shapes,
                 rtol=1e-4, atol=1e-5, alt_cases=None):
        self.name = name
        self.description = description
        self.build = build
        self.make_inputs = make_inputs
        self.cases = cases
        self.dynamic_shapes = dynamic_shapes if isinstance(dynamic_shapes, list) else [dynamic_shapes]
        self.rtol = rtol
        self.atol = atol
        self.alt_cases = alt_cases or {}  # {alternative index: cases}, same cases[0]

    def cases_for(self, alt):
        return self.alt_cases.get(alt, self.cases)


SPECS = []


def register(spec):
    SPECS.append(spec)
    return spec


def batch_dim(max=64):
    return Dim("batch", min=1, max=max)


# ----------------------------------------------------------------------------------------
# 1. mlp
# ----------------------------------------------------------------------------------------


class MLP(nn.Module):
    def __init__(self, d_in=16, d_h=32, d_out=10):
        super().__init__()
        self.fc1 = nn.Linear(d_in, d_h)
        self.act1 = nn.GELU()
        self.fc2 = nn.Linear(d_h, d_h)
        self.act2 = nn.ReLU()
        self.fc3 = nn.Linear(d_h, d_out)

    def forward(self, x):
        return torch.softmax(self.fc3(self.act2(self.fc2(self.act1(self.fc1(x))))), dim=-1)


register(Spec(
    "mlp",
    "Linear(16,32)-GELU-Linear(32,32)-ReLU-Linear(32,10)-softmax; x: f32[batch,16], batch in [1,1024].",
    MLP,
    lambda inp, b: (inp.randn(b, 16),),
    [dict(b=4), dict(b=7), dict(b=1)],
    lambda: ({0: Dim("batch", min=1, max=1024)},),
))


# ----------------------------------------------------------------------------------------
# 2. CNNs from torchvision
# ----------------------------------------------------------------------------------------


def build_resnet18_narrow(base=8, num_classes=10):
    """torchvision ResNet-18 topology (BasicBlock, [2,2,2,2]) with widths base*(1,2,4,8)
    instead of 64*(1,2,4,8). Subclasses torchvision's ResNet and reuses its _make_layer,
    BasicBlock and forward; only __init__'s hard-coded widths are changed."""
    from torchvision.models.resnet import BasicBlock, ResNet

    class NarrowResNet(ResNet):
        def __init__(self):
            nn.Module.__init__(self)
            norm_layer = nn.BatchNorm2d
            self._norm_layer = norm_layer
            self.inplanes = base
            self.dilation = 1
            self.groups = 1
            self.base_width = 64
            self.conv1 = nn.Conv2d(3, base, kernel_size=7, stride=2, padding=3, bias=False)
            self.bn1 = norm_layer(base)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            self.layer1 = self._make_layer(BasicBlock, base, 2)
            self.layer2 = self._make_layer(BasicBlock, base * 2, 2, stride=2)
            self.layer3 = self._make_layer(BasicBlock, base * 4, 2, stride=2)
            self.layer4 = self._make_layer(BasicBlock, base * 8, 2, stride=2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(base * 8 * BasicBlock.expansion, num_classes)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    return randomize_norms(NarrowResNet())


def image_dyn_hw():
    # h, w >= 2: at H = 32 the last feature map is 1x1 and export guards against that.
    return ({0: batch_dim(32), 2: 32 * Dim("h", min=2, max=8), 3: 32 * Dim("w", min=2, max=8)},)


def image_dyn_batch():
    return ({0: batch_dim(32)},)


register(Spec(
    "resnet18",
    "torchvision ResNet-18 topology (torchvision.models.resnet.ResNet subclass, BasicBlock "
    "[2,2,2,2]) narrowed to widths 8/16/32/64 (instead of 64..512) so weights stay small; "
    "randomized BatchNorm stats; 10 classes. x: f32[batch,3,32*h,32*w] (h, w in [2,8]), dynamic batch, H and W.",
    build_resnet18_narrow,
    lambda inp, b, h, w: (inp.randn(b, 3, h, w),),
    [dict(b=2, h=64, w=64), dict(b=3, h=96, w=64), dict(b=1, h=64, w=128)],
    [image_dyn_hw, image_dyn_batch],
    rtol=1e-4, atol=1e-4,
    alt_cases={1: [dict(b=2, h=64, w=64), dict(b=3, h=64, w=64)]},
))


def build_mobilenet_v2():
    import torchvision

    return randomize_norms(torchvision.models.mobilenet_v2(weights=None, num_classes=10, width_mult=0.25))


register(Spec(
    "mobilenet_v2",
    "torchvision mobilenet_v2(weights=None, num_classes=10, width_mult=0.25), randomized "
    "BatchNorm stats. x: f32[batch,3,32*h,32*w] (h, w in [2,8]), dynamic batch, H and W.",
    build_mobilenet_v2,
    lambda inp, b, h, w: (inp.randn(b, 3, h, w),),
    [dict(b=2, h=64, w=64), dict(b=3, h=96, w=64), dict(b=1, h=64, w=128)],
    [image_dyn_hw, image_dyn_batch],
    rtol=1e-4, atol=1e-4,
    alt_cases={1: [dict(b=2, h=64, w=64), dict(b=3, h=64, w=64)]},
))


def build_efficientnet_b0_tiny():
    from functools import partial

    from torchvision.models.efficientnet import EfficientNet, MBConvConfig

    bneck = partial(MBConvConfig, width_mult=0.25, depth_mult=0.5)
    setting = [  # efficientnet_b0's table, scaled by width 0.25 / depth 0.5
        bneck(1, 3, 1, 32, 16, 1),
        bneck(6, 3, 2, 16, 24, 2),
        bneck(6, 5, 2, 24, 40, 2),
        bneck(6, 3, 2, 40, 80, 3),
        bneck(6, 5, 1, 80, 112, 3),
        bneck(6, 5, 2, 112, 192, 4),
        bneck(1, 3, 1, 192, 320, 1),
    ]
    return randomize_norms(EfficientNet(setting, dropout=0.2, num_classes=10))


register(Spec(
    "efficientnet_b0",
    "torchvision EfficientNet (models.efficientnet.EfficientNet + MBConvConfig) with the "
    "efficientnet_b0 block table at width_mult=0.25, depth_mult=0.5 (MBConv, SiLU, "
    "squeeze-excitation, stochastic depth inactive in eval), 10 classes, randomized "
    "BatchNorm stats. x: f32[batch,3,32*h,32*w] (h, w in [2,8]), dynamic batch, H and W.",
    build_efficientnet_b0_tiny,
    lambda inp, b, h, w: (inp.randn(b, 3, h, w),),
    [dict(b=2, h=64, w=64), dict(b=3, h=96, w=64)],
    [image_dyn_hw, image_dyn_batch],
    rtol=1e-4, atol=1e-4,
    alt_cases={1: [dict(b=2, h=64, w=64), dict(b=3, h=64, w=64)]},
))


# ----------------------------------------------------------------------------------------
# 3. vit
# ----------------------------------------------------------------------------------------


def build_vit():
    from torchvision.models import VisionTransformer

    model = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                              hidden_dim=32, mlp_dim=64, num_classes=10)
    # torchvision zero-initializes the classification head (outputs would all be 0), and
    # its conv_proj init differs between torchvision versions: redraw both.
    with torch.no_grad():
        head = model.heads.head
        head.weight.copy_(torch.randn(head.weight.shape) * 0.2)
        head.bias.copy_(torch.randn(head.bias.shape) * 0.1)
        w = model.conv_proj.weight
        w.copy_(torch.randn(w.shape) * math.sqrt(1.0 / w[0].numel()))
    return model


register(Spec(
    "vit",
    "torchvision VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, "
    "hidden_dim=32, mlp_dim=64, num_classes=10) (nn.MultiheadAttention inside). "
    "x: f32[batch,3,32,32], dynamic batch.",
    build_vit,
    lambda inp, b: (inp.randn(b, 3, 32, 32),),
    [dict(b=2), dict(b=5)],
    lambda: ({0: batch_dim(32)},),
    rtol=1e-4, atol=1e-4,
))


# ----------------------------------------------------------------------------------------
# 4. transformers: gpt2, llama, bert
# ----------------------------------------------------------------------------------------

HF_VOCAB = 256
HF_MAXPOS = 64


def hf_build(kind, attn):
    import transformers as tf

    common = dict(vocab_size=HF_VOCAB)
    if kind == "gpt2":
        cfg = tf.GPT2Config(n_positions=HF_MAXPOS, n_embd=32, n_layer=2, n_head=2, n_inner=64,
                            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, use_cache=False,
                            **common)
        cls = tf.GPT2LMHeadModel
    elif kind == "llama":
        cfg = tf.LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                             num_attention_heads=4, num_key_value_heads=2,
                             max_position_embeddings=HF_MAXPOS, use_cache=False, **common)
        cls = tf.LlamaForCausalLM
    elif kind == "bert":
        cfg = tf.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=64, max_position_embeddings=HF_MAXPOS,
                            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, **common)
        cls = tf.BertModel
    else:
        raise ValueError(kind)
    try:
        model = cls._from_config(cfg, attn_implementation=attn)
    except TypeError:
        cfg._attn_implementation = attn
        model = cls(cfg)
    return model.float().eval()


class CausalLMWrapper(nn.Module):
    def __init__(self, kind, attn):
        super().__init__()
        self.model = hf_build(kind, attn)

    def forward(self, input_ids):
        return self.model(input_ids=input_ids, use_cache=False).logits


class BertWrapper(nn.Module):
    def __init__(self, attn):
        super().__init__()
        self.model = hf_build("bert", attn)

    def forward(self, input_ids, attention_mask):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask)
        return out.last_hidden_state, out.pooler_output


def seq_dyn(n_inputs):
    b = Dim("batch", min=1, max=16)
    s = Dim("seq", min=2, max=HF_MAXPOS)
    return tuple({0: b, 1: s} for _ in range(n_inputs))


def seq_auto(n_inputs):
    # Fallback: torch 2.11 + transformers 5.17 llama emits a guard
    # min(8*seq, 16*seq) == 8*seq that the named-Dim solver can't prove; AUTO accepts it.
    try:
        b, s = Dim.AUTO(min=1, max=16), Dim.AUTO(min=2, max=HF_MAXPOS)
    except TypeError:  # DimHint not callable in older torch
        b, s = Dim.AUTO, Dim.AUTO
    return tuple({0: b, 1: s} for _ in range(n_inputs))


def padding_mask(inp, b, s):
    """int64 [b, s] attention mask: row i has ones on a random prefix of length >= 1."""
    lengths = inp.randint(1, s + 1, b)
    lengths[-1] = max(1, s - 2)  # the last row is padded
    if b >= 2:
        lengths[0] = s  # and the first is not
    return (torch.arange(s)[None, :] < lengths[:, None]).to(torch.int64)


for _kind, _desc in [
    ("gpt2", "transformers GPT2LMHeadModel, tiny config (vocab 256, n_embd 32, 2 layers, 2 heads, "
             "n_inner 64, n_positions 64; lm_head tied to wte)"),
    ("llama", "transformers LlamaForCausalLM, tiny config (vocab 256, hidden 32, intermediate 64, "
              "2 layers, 4 heads, 2 kv heads (GQA), max positions 64, RoPE, RMSNorm, SiLU MLP)"),
]:
    register(Spec(
        _kind,
        _desc + ", use_cache=False, attn_implementation={attn}. input_ids: i64[batch,seq] in "
                "[0,256); returns logits f32[batch,seq,256]; dynamic batch and seq (seq in [2,64]).",
        None,
        lambda inp, b, s: (inp.randint(0, HF_VOCAB, b, s),),
        [dict(b=2, s=8), dict(b=3, s=13), dict(b=1, s=5)],
        [lambda: seq_dyn(1), lambda: seq_auto(1)],
        alt_cases={1: [dict(b=2, s=8), dict(b=3, s=13), dict(b=4, s=5)]},  # AUTO: batch >= 2
        rtol=1e-4, atol=1e-4,
    ))
    SPECS[-1].hf = _kind

register(Spec(
    "bert",
    "transformers BertModel, tiny config (vocab 256, hidden 32, 2 layers, 2 heads, intermediate "
    "64, max positions 64), attn_implementation={attn}. input_ids i64[batch,seq] in [0,256), "
    "attention_mask i64[batch,seq] (ones on a prefix, zeros = padding; last row padded); returns "
    "(last_hidden_state f32[batch,seq,32], pooler_output f32[batch,32]); dynamic batch and seq.",
    None,
    lambda inp, b, s: (inp.randint(0, HF_VOCAB, b, s), padding_mask(inp, b, s)),
    [dict(b=2, s=8), dict(b=3, s=13), dict(b=1, s=5)],
    [lambda: seq_dyn(2), lambda: seq_auto(2)],
    alt_cases={1: [dict(b=2, s=8), dict(b=3, s=13), dict(b=4, s=5)]},
    rtol=1e-4, atol=1e-4,
))
SPECS[-1].hf = "bert"


# ----------------------------------------------------------------------------------------
# 5. unet_block
# ----------------------------------------------------------------------------------------


class UNetBlock(nn.Module):
    def __init__(self, c=8):
        super().__init__()
        self.conv_in = nn.Conv2d(3, c, 3, padding=1)
        self.gn1 = nn.GroupNorm(2, c)
        self.act = nn.SiLU()
        self.down = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)
        self.gn2 = nn.GroupNorm(4, 2 * c)
        self.mid = nn.Conv2d(2 * c, 2 * c, 3, padding=1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.conv_out = nn.Conv2d(3 * c, 4, 3, padding=1)

    def forward(self, x):
        h = self.act(self.gn1(self.conv_in(x)))
        d = self.act(self.gn2(self.down(h)))
        d = self.mid(d)
        u = self.up(d)
        return self.conv_out(torch.cat([u, h], dim=1))


register(Spec(
    "unet_block",
    "conv3x3 -> GroupNorm -> SiLU -> stride-2 conv (down) -> GroupNorm -> SiLU -> conv -> "
    "nearest upsample x2 -> concat with skip -> conv. x: f32[batch,3,2*h,2*w] with derived "
    "dims H=2*h, W=2*w (shapes show 2*s..).",
    lambda: randomize_norms(UNetBlock()),
    lambda inp, b, h, w: (inp.randn(b, 3, 2 * h, 2 * w),),
    [dict(b=2, h=8, w=12), dict(b=1, h=5, w=3), dict(b=3, h=16, w=16)],
    lambda: ({0: batch_dim(16), 2: 2 * Dim("h", min=1, max=64), 3: 2 * Dim("w", min=1, max=64)},),
    rtol=1e-4, atol=1e-5,
))


# ----------------------------------------------------------------------------------------
# 6. multi_io
# ----------------------------------------------------------------------------------------


class MultiIO(nn.Module):
    def __init__(self, d=8):
        super().__init__()
        self.proj = nn.Linear(d, d)

    def forward(self, x, idx, mask):
        # x: f32[B,N,D]; idx: i64[B,K] in [0,N); mask: b8[B,N]
        h = self.proj(x)
        g = torch.gather(h, 1, idx.unsqueeze(-1).expand(-1, -1, h.shape[-1]))
        m = h.masked_fill(~mask.unsqueeze(-1), 0.0)
        denom = mask.sum(1, keepdim=True).clamp(min=1).to(h.dtype)
        pooled = m.sum(1) / denom
        n = x.shape[0] * x.shape[1]
        flat = h.reshape(n, -1) / n  # uses a sym size as a scalar
        count = torch.full((x.shape[0],), x.shape[1] + idx.shape[1], dtype=torch.int64)
        return g, {"pooled": pooled, "nested": (flat, mask.logical_not())}, count, n


register(Spec(
    "multi_io",
    "Three inputs (x f32[B,N,8], idx i64[B,K] in [0,N), mask b8[B,N]); outputs a tuple "
    "(gather result f32[B,K,8], {'pooled': f32[B,8], 'nested': (f32[B*N,8] divided by B*N, "
    "b8[B,N])}, i64[B] filled with N+K, and the SymInt B*N as a plain int output). "
    "Outputs are flattened with pytree: g, pooled, flat, not_mask, count, n.",
    MultiIO,
    lambda inp, b, n, k: (inp.randn(b, n, 8), inp.randint(0, n, b, k), inp.randbool(b, n)),
    [dict(b=2, n=6, k=3), dict(b=3, n=9, k=5)],
    lambda: ({0: Dim("batch", min=1, max=32), 1: Dim("n", min=2, max=256)},
             {0: Dim("batch", min=1, max=32), 1: Dim("k", min=2, max=256)},
             {0: Dim("batch", min=1, max=32), 1: Dim("n", min=2, max=256)}),
))


# ----------------------------------------------------------------------------------------
# 7. half_weights
# ----------------------------------------------------------------------------------------


class HalfWeights(nn.Module):
    def __init__(self):
        super().__init__()
        self.bf = nn.Linear(16, 16).to(torch.bfloat16)
        self.ln = nn.LayerNorm(16).to(torch.bfloat16)
        self.hf = nn.Linear(16, 8).to(torch.float16)

    def forward(self, x_bf16, y):
        a = F.gelu(self.ln(self.bf(x_bf16)))            # bf16
        b = self.hf(y.to(torch.float16))                # f16
        c = a.float().sum(-1, keepdim=True) + b.float()  # f32
        return a, b, c


register(Spec(
    "half_weights",
    "bf16 Linear(16,16) + bf16 LayerNorm + GELU on a bf16 input, and an fp16 Linear(16,8) on "
    "an f32 input cast to fp16; outputs (bf16[B,16], f16[B,8], f32[B,8]). bf16 tensors are "
    "stored as f32 .npy (exactly representable); the manifest has the true dtype.",
    lambda: randomize_norms(HalfWeights()),
    lambda inp, b: (inp.randn(b, 16, dtype=torch.bfloat16), inp.randn(b, 16)),
    [dict(b=3), dict(b=6)],
    lambda: ({0: Dim("batch", min=1, max=64)}, {0: Dim("batch", min=1, max=64)}),
    rtol=2e-2, atol=2e-2,
))


# ----------------------------------------------------------------------------------------
# 8. inplace_ops
# ----------------------------------------------------------------------------------------


class InplaceOps(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)
        self.scale = nn.Parameter(torch.randn(8))

    def forward(self, x):
        y = self.lin(x)
        y.relu_()
        y.add_(1.0)
        y.mul_(self.scale)
        z = F.hardswish(y.clone(), inplace=True)
        w = z.clone()
        w[:, :2] = x[:, :2] * 2.0        # slice + copy_
        w[:, 3] += 1.0                   # select + add_
        w[x[:, 4] > 0] = -1.0            # boolean-mask index_put_
        w.sub_(x).div_(2.0)
        t = x.clone()
        t.clamp_(min=-0.5).sigmoid_()
        return w, y, t


register(Spec(
    "inplace_ops",
    "In-place ops in the TRAINING IR: relu_, add_, mul_, hardswish_, slice copy_ "
    "(w[:, :2] = ...), select add_, boolean-mask index_put_, sub_, div_, clamp_, sigmoid_. "
    "x: f32[batch,8]; returns (w, y, t) all f32.",
    InplaceOps,
    lambda inp, b: (inp.randn(b, 8),),
    [dict(b=4), dict(b=9)],
    lambda: ({0: Dim("batch", min=2, max=64)},),
))


# ----------------------------------------------------------------------------------------
# 9. buffer_mutation
# ----------------------------------------------------------------------------------------


class BufferMutation(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)
        self.register_buffer("count", torch.zeros((), dtype=torch.int64))
        self.register_buffer("ema", torch.randn(8))
        self.register_buffer("offset", torch.randn(8), persistent=False)
        self.scale = torch.linspace(0.5, 1.5, 8)  # plain attribute -> lifted tensor constant

    def forward(self, x, acc):
        self.count += 1
        self.ema.mul_(0.9).add_(x.mean(0) * 0.1)
        acc.add_(x.sum(0))  # user-input mutation
        y = self.lin(x) * self.scale + self.offset - self.ema
        return y, self.ema.clone(), self.count.clone(), acc.clone()


register(Spec(
    "buffer_mutation",
    "Buffers mutated in forward: count (i64 scalar, += 1), ema (f32[8], ema = 0.9*ema + "
    "0.1*mean(x)); a non-persistent buffer 'offset' (goes to constants); a lifted tensor "
    "constant 'scale' (plain tensor attribute); the user input 'acc' f32[8] is mutated in "
    "place (acc += x.sum(0)). x: f32[batch,8]. Returns (y, ema after update, count after "
    "update, acc after update). Every case starts from the initial state (count=0).",
    BufferMutation,
    lambda inp, b: (inp.randn(b, 8), inp.randn(8)),
    [dict(b=4), dict(b=7)],
    lambda: ({0: Dim("batch", min=2, max=64)}, None),
))


# ----------------------------------------------------------------------------------------
# 10. tied_weights
# ----------------------------------------------------------------------------------------


class TiedWeights(nn.Module):
    def __init__(self, vocab=64, d=16):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.norm = nn.LayerNorm(d)
        self.proj = nn.Linear(d, d)
        self.head = nn.Linear(d, vocab, bias=False)
        self.head.weight = self.emb.weight  # tied: one Parameter, FQNs emb.weight / head.weight
        self.gain = self.norm.weight        # a second name for one Parameter

    def forward(self, ids):
        h = self.norm(self.emb(ids))
        h = F.silu(self.proj(h)) * self.gain + h
        return self.head(h)


register(Spec(
    "tied_weights",
    "Embedding(64,16) whose weight is also the output projection (head.weight is emb.weight), "
    "LayerNorm whose weight is also registered as 'gain', a Linear; ids: i64[batch,seq] in "
    "[0,64); returns logits f32[batch,seq,64].",
    lambda: randomize_norms(TiedWeights()),
    lambda inp, b, s: (inp.randint(0, 64, b, s),),
    [dict(b=2, s=5), dict(b=3, s=11)],
    lambda: ({0: Dim("batch", min=1, max=32), 1: Dim("seq", min=2, max=128)},),
))


# ----------------------------------------------------------------------------------------
# 11. op-level micro models
# ----------------------------------------------------------------------------------------


class OpConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1d = nn.Conv1d(4, 8, 3, stride=2, padding=1)
        self.c1d_dil = nn.Conv1d(8, 4, 3, padding=2, dilation=2, groups=2, bias=False)
        self.c2d_g = nn.Conv2d(4, 8, 3, padding=2, dilation=2, groups=2)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.c2d_s = nn.Conv2d(8, 8, (3, 1), stride=(2, 1), padding=(1, 0), bias=False)
        self.c2d_same = nn.Conv2d(8, 8, 3, padding="same")
        self.ct = nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1)
        self.ct_g = nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1, output_padding=1, groups=2)

    def forward(self, x1, x2):
        a = self.c1d_dil(self.c1d(x1))
        b = self.dw(self.c2d_g(x2))
        c = self.c2d_same(self.c2d_s(b))
        d = self.ct_g(self.ct(c))
        e = F.conv2d(x2, self.c2d_g.weight, None, stride=2, padding=1, groups=2)
        return a, b, c, d, e


register(Spec(
    "op_conv",
    "conv1d (stride 2; dilation 2 + groups 2), conv2d (dilation 2 groups 2; depthwise; (3,1) "
    "kernel stride (2,1); padding='same'), conv_transpose2d (stride 2; groups 2 with "
    "output_padding), functional conv2d reusing a weight. x1: f32[B,4,L], x2: f32[B,4,2*h,W].",
    OpConv,
    lambda inp, b, l, h, w: (inp.randn(b, 4, l), inp.randn(b, 4, 2 * h, w)),
    [dict(b=2, l=16, h=6, w=10), dict(b=3, l=9, h=4, w=7)],
    lambda: ({0: Dim("batch", min=1, max=16), 2: Dim("l", min=4, max=256)},
             {0: Dim("batch", min=1, max=16), 2: 2 * Dim("h", min=2, max=64),
              3: Dim("w", min=4, max=128)}),
))


class OpNorms(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2d(4)
        self.bn1d = nn.BatchNorm1d(8)
        self.gn = nn.GroupNorm(2, 4)
        self.inorm = nn.InstanceNorm2d(4, affine=True)
        self.ln = nn.LayerNorm(8)
        self.ln_nob = nn.LayerNorm(8, elementwise_affine=False)
        self.rms = nn.RMSNorm(8) if hasattr(nn, "RMSNorm") else None

    def forward(self, x, s):
        outs = [self.bn(x), self.gn(x), self.inorm(x), self.ln(s), self.ln_nob(s),
                self.bn1d(s.transpose(1, 2)), F.normalize(s, dim=-1)]
        if self.rms is not None:
            outs.append(self.rms(s))
        return tuple(outs)


register(Spec(
    "op_norms",
    "batch_norm (2d, 1d; eval, randomized running stats), group_norm, instance_norm (affine), "
    "layer_norm (affine / not), F.normalize, rms_norm (nn.RMSNorm). x: f32[B,4,H,W], "
    "s: f32[B,T,8].",
    lambda: randomize_norms(OpNorms()),
    lambda inp, b, h, w, t: (inp.randn(b, 4, h, w) * 2 + 0.5, inp.randn(b, t, 8)),
    [dict(b=2, h=6, w=5, t=7), dict(b=3, h=4, w=9, t=3)],
    lambda: ({0: Dim("batch", min=1, max=16), 2: Dim("h", min=2, max=64),
              3: Dim("w", min=2, max=64)},
             {0: Dim("batch", min=1, max=16), 1: Dim("t", min=2, max=64)}),
))


class OpPool(nn.Module):
    def forward(self, x, s):
        mp, mi = F.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)
        return (
            mp, mi,
            F.max_pool2d(x, 2, ceil_mode=True),
            F.avg_pool2d(x, 2),
            F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False),
            F.adaptive_avg_pool2d(x, (1, 1)),
            F.adaptive_avg_pool2d(x, (2, 3)),
            F.adaptive_max_pool2d(x, 2),
            F.max_pool1d(s[:, :, :8], 2),  # max_pool1d specializes a dynamic length
            F.avg_pool1d(s, 3, stride=2, padding=1),
            F.adaptive_avg_pool1d(s, 1),
        )


register(Spec(
    "op_pool",
    "max_pool2d (with indices; ceil_mode), avg_pool2d (count_include_pad=False), "
    "adaptive_avg_pool2d (1x1 and 2x3), adaptive_max_pool2d, max_pool1d, avg_pool1d, "
    "adaptive_avg_pool1d. x: f32[B,3,2*h,2*w], s: f32[B,4,2*l] with l >= 5 (even sizes avoid "
    "pooling-rounding guards; max_pool1d runs on the static slice s[:, :, :8] because it "
    "specializes a dynamic length).",
    OpPool,
    lambda inp, b, h, w, l: (inp.randn(b, 3, 2 * h, 2 * w), inp.randn(b, 4, 2 * l)),
    [dict(b=2, h=4, w=6, l=5), dict(b=1, h=3, w=5, l=9)],
    lambda: ({0: Dim("batch", min=1, max=16), 2: 2 * Dim("h", min=2, max=32),
              3: 2 * Dim("w", min=2, max=32)},
             {0: Dim("batch", min=1, max=16), 2: 2 * Dim("l", min=5, max=32)}),
))


class OpAct(nn.Module):
    def forward(self, x):
        return (
            F.hardswish(x), F.hardsigmoid(x), F.silu(x), F.mish(x),
            F.gelu(x), F.gelu(x, approximate="tanh"),
            torch.sigmoid(x), torch.tanh(x), F.relu(x), F.relu6(x * 4),
            F.leaky_relu(x, 0.1), F.elu(x), F.softplus(x), F.hardtanh(x, -0.5, 0.5),
            F.selu(x), F.logsigmoid(x),
        )


register(Spec(
    "op_act",
    "Activations: hardswish, hardsigmoid, silu, mish, gelu (erf / tanh), sigmoid, tanh, relu, "
    "relu6, leaky_relu, elu, softplus, hardtanh, selu, logsigmoid. x: f32[B,N] (scale 3).",
    OpAct,
    lambda inp, b, n: (inp.randn(b, n, scale=3.0),),
    [dict(b=2, n=17), dict(b=4, n=5)],
    lambda: ({0: Dim("batch", min=1, max=64), 1: Dim("n", min=2, max=1024)},),
))


class OpAttention(nn.Module):
    def forward(self, q, k, v, mask, bias):
        # q: [B,H,L,D], k/v: [B,H,S,D], mask: b8[B,1,L,S], bias: f32[B,1,L,S]
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        b = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        c = F.scaled_dot_product_attention(q, q * 0.5, q, is_causal=True)
        d = F.scaled_dot_product_attention(q, k, v, scale=0.3)
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        return a, b, c, d, torch.softmax(scores, dim=-1), torch.log_softmax(scores, dim=-1)


def attn_inputs(inp, b, l, s):
    mask = inp.randbool(b, 1, l, s)
    mask[..., 0] = True  # every query attends to something
    return (inp.randn(b, 2, l, 8), inp.randn(b, 2, s, 8), inp.randn(b, 2, s, 8), mask,
            inp.randn(b, 1, l, s))


register(Spec(
    "op_attention",
    "scaled_dot_product_attention with a bool mask, with an additive float mask, with "
    "is_causal=True, with an explicit scale; plus matmul softmax / log_softmax. q: f32[B,2,L,8], "
    "k,v: f32[B,2,S,8], mask: b8[B,1,L,S] (column 0 always True), bias: f32[B,1,L,S].",
    OpAttention,
    attn_inputs,
    [dict(b=2, l=5, s=7), dict(b=1, l=3, s=12)],
    lambda: ({0: Dim("batch", min=1, max=16), 2: Dim("l", min=2, max=128)},
             {0: Dim("batch", min=1, max=16), 2: Dim("s", min=2, max=128)},
             {0: Dim("batch", min=1, max=16), 2: Dim("s", min=2, max=128)},
             {0: Dim("batch", min=1, max=16), 2: Dim("l", min=2, max=128), 3: Dim("s", min=2, max=128)},
             {0: Dim("batch", min=1, max=16), 2: Dim("l", min=2, max=128), 3: Dim("s", min=2, max=128)}),
))


class OpIndexing(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(32, 4)

    def forward(self, x, idx, sel, mask, tokens):
        # x f32[B,N], idx i64[B,K] in [0,N), sel i64[K] in [0,N), mask b8[B,N], tokens i64[B,T]
        rows = torch.arange(x.shape[0])
        return (
            torch.where(mask, x, -x),
            torch.where(x > 0, x, 0.0),
            x.masked_fill(mask, -1.0),
            (x > 0) & ~mask | (x < -1),
            torch.logical_xor(x >= 0.5, mask),
            torch.logical_and(x <= 0.2, torch.logical_not(mask)),
            torch.logical_or(x == x.round(), x != x.abs()),
            torch.gather(x, 1, idx),
            x[:, sel],                       # index.Tensor
            x[rows, idx[:, 0]],              # index.Tensor with two index tensors
            torch.index_select(x, 1, sel),
            torch.cumsum(x, 1),
            torch.cumsum(mask, 1),           # bool -> i64
            torch.triu(x),
            torch.tril(x, -1),
            self.emb(tokens),
            x.scatter(1, idx, 1.0),
        )


register(Spec(
    "op_indexing",
    "where, masked_fill, comparisons (gt/lt/ge/le/eq/ne), logical/bitwise and/or/xor/not, "
    "gather, index.Tensor (one and two index tensors), index_select, cumsum (f32, bool), "
    "triu/tril, embedding, scatter. x f32[B,N], idx i64[B,K] in [0,N), sel i64[K] in [0,N), "
    "mask b8[B,N], tokens i64[B,T] in [0,32).",
    OpIndexing,
    lambda inp, b, n, k, t: (inp.randn(b, n), inp.randint(0, n, b, k), inp.randint(0, n, k),
                             inp.randbool(b, n), inp.randint(0, 32, b, t)),
    [dict(b=2, n=9, k=4, t=3), dict(b=3, n=6, k=2, t=5)],
    lambda: ({0: Dim("batch", min=1, max=32), 1: Dim("n", min=2, max=256)},
             {0: Dim("batch", min=1, max=32), 1: Dim("k", min=2, max=256)},
             {0: Dim("k", min=2, max=256)},
             {0: Dim("batch", min=1, max=32), 1: Dim("n", min=2, max=256)},
             {0: Dim("batch", min=1, max=32), 1: Dim("t", min=2, max=256)}),
))


class OpShape(nn.Module):
    def forward(self, x, y):
        # x f32[B,N,4], y f32[B,M,4]
        B, N = x.shape[0], x.shape[1]
        c0, c1 = torch.chunk(x, 2, dim=-1)
        s0, s1 = torch.split(x, [1, 3], dim=-1)
        u = torch.unbind(x, dim=-1)
        return (
            torch.cat([x, y], dim=1),
            torch.stack([x, x * 2.0], dim=0),
            F.pad(x, (1, 2, 0, 1)),
            F.pad(x, (2, 1), mode="reflect"),
            F.pad(x, (1, 1), mode="replicate"),
            x.repeat(1, 2, 1),
            x.repeat_interleave(2, dim=1),
            x[:, :1].expand(-1, N, -1),
            x.permute(2, 0, 1),
            x.transpose(1, 2).contiguous(),
            x[:, 1:-1:2],
            x[:, -1],
            x.select(2, 3),
            c0, c1, s0, s1, u[0], u[3],
            x.flatten(1),
            x.reshape(B * N, 4),
            x.view(B, -1, 2),
            x.unsqueeze(1),
            x[:, :1].squeeze(1),
            torch.full((B, 3), 1.5),
            torch.zeros(B, 2),
            torch.ones((2, N)),
            x.new_ones((N,)),
            torch.arange(N),
            torch.arange(0, 2 * N, 2, dtype=torch.float32),
            torch.zeros_like(y),
            torch.ones_like(x, dtype=torch.int32),
            torch.flip(x, [1]),
            torch.roll(x, 1, dims=1),
        )


register(Spec(
    "op_shape",
    "cat, stack, pad (constant/reflect/replicate), repeat, repeat_interleave, expand, permute, "
    "transpose, slice (step 2, negative), select, chunk, split, unbind, flatten, reshape, view, "
    "unsqueeze, squeeze, full, zeros, ones, new_ones, arange (int and float with step), "
    "zeros_like, ones_like(int32), flip, roll. x f32[B,N,4] with N >= 5 (the step-2 slice "
    "guards (N-1)//2 != 1), y f32[B,M,4].",
    OpShape,
    lambda inp, b, n, m: (inp.randn(b, n, 4), inp.randn(b, m, 4)),
    [dict(b=2, n=5, m=3), dict(b=3, n=8, m=6)],
    lambda: ({0: Dim("batch", min=1, max=32), 1: Dim("n", min=5, max=256)},
             {0: Dim("batch", min=1, max=32), 1: Dim("m", min=2, max=256)}),
))


class OpReduce(nn.Module):
    def forward(self, x, m):
        # x f32[B,N,D], m b8[B,N]
        mx, mxi = x.max(dim=1)
        mn, mni = x.min(dim=-1, keepdim=True)
        return (
            x.sum(), x.sum(1), x.sum((1, 2), keepdim=True), x.mean(-1), x.mean((0, 1)),
            x.amax(1), x.amin((0, 2)), mx, mxi, mn, mni,
            x.argmax(-1), x.argmin(1), x.var(1), x.var(-1, unbiased=False), x.std(-1),
            x.prod(-1), m.all(1), m.any(), m.sum(1),
            x.norm(dim=-1), x.norm(p=1, dim=1), torch.linalg.vector_norm(x, ord=2, dim=(1, 2)),
            torch.logsumexp(x, -1), x.max(), x.abs().min(),
        )


register(Spec(
    "op_reduce",
    "sum (all / dim / dims keepdim), mean, amax, amin, max.dim and min.dim (values+indices), "
    "argmax, argmin, var (unbiased / not), std, prod, all, any, bool sum, norm (p=2, p=1), "
    "linalg.vector_norm, logsumexp, max(), min(). x f32[B,N,5], m b8[B,N].",
    OpReduce,
    lambda inp, b, n: (inp.randn(b, n, 5), inp.randbool(b, n, true_last_row=True)),
    [dict(b=2, n=6), dict(b=3, n=4)],
    lambda: ({0: Dim("batch", min=1, max=32), 1: Dim("n", min=2, max=256)},
             {0: Dim("batch", min=1, max=32), 1: Dim("n", min=2, max=256)}),
))


class OpPointwise(nn.Module):
    def forward(self, x, y, xi, yi):
        # x f32, y f32 nonzero, xi i64, yi i64 nonzero; all [B,N]
        ax = x.abs() + 0.1
        return (
            x + y, x - y, x * y, x / y,
            torch.div(x, y, rounding_mode="floor"), torch.div(x, y, rounding_mode="trunc"),
            x + 2.0, 3.0 - x, x * 0.5, 1.0 / y,
            torch.pow(x, 2), torch.pow(ax, y), x ** 3, 2.0 ** x,
            torch.sqrt(ax), torch.rsqrt(ax), torch.exp(x), torch.log(ax), torch.log1p(ax),
            torch.log2(ax), torch.exp2(x),
            x.abs(), -x, torch.reciprocal(y),
            torch.clamp(x, -0.5, 0.5), torch.clamp(x, min=0.0), torch.clamp(x, max=0.3),
            torch.floor(x * 3), torch.ceil(x * 3), torch.round(x * 3), torch.trunc(x * 3),
            torch.sign(x), torch.erf(x), torch.sin(x), torch.cos(x),
            torch.maximum(x, y), torch.minimum(x, y),
            torch.remainder(x, y), torch.fmod(x, y),
            torch.div(xi, yi, rounding_mode="floor"), torch.div(xi, yi, rounding_mode="trunc"),
            xi // yi, torch.remainder(xi, yi), torch.fmod(xi, yi), xi * yi - 3, xi.abs(), -xi,
            torch.maximum(xi, yi), torch.clamp(xi, -3, 3),
        )


register(Spec(
    "op_pointwise",
    "add/sub/mul/div (true, floor, trunc) incl. scalar forms and rsub, pow (tensor/scalar "
    "exponents and base), sqrt, rsqrt, exp, exp2, log, log2, log1p, abs, neg, reciprocal, "
    "clamp (both/min/max), floor, ceil, round, trunc, sign, erf, sin, cos, maximum, minimum, "
    "remainder, fmod; int64 floor/trunc div, //, remainder, fmod (signed operands). "
    "x f32[B,N], y f32[B,N] (|y|>=0.5), xi i64[B,N] in [-20,20), yi i64[B,N] nonzero in [-7,7].",
    OpPointwise,
    lambda inp, b, n: (inp.randn(b, n), inp.nonzero(b, n), inp.randint(-20, 20, b, n),
                       inp.nonzero(b, n, margin=1.0).clamp(-7, 7).round().to(torch.int64)),
    [dict(b=2, n=7), dict(b=3, n=4)],
    lambda: tuple({0: Dim("batch", min=1, max=32), 1: Dim("n", min=2, max=256)} for _ in range(4)),
    rtol=1e-4, atol=1e-5,
))


class OpPromotion(nn.Module):
    def forward(self, x, i, m):
        # x f32[B,N], i i64[B,N] nonzero, m b8[B,N]
        return (
            i + x,                        # i64 + f32 -> f32
            i * 0.5,                      # i64 * py float -> f32
            i / 2,                        # true div of int -> f32
            i // 3,                       # i64
            i / i.flip(1),                # int / int -> f32
            m + i,                        # b8 + i64 -> i64
            m * x,                        # b8 * f32 -> f32
            x + m,                        # f32 + b8
            m.sum(1),                     # -> i64
            (x * 10).to(torch.int32) + 1,   # f32 -> i32 (truncation)
            i.to(torch.int32) * 3,          # i32
            i.to(torch.uint8),              # wraps modulo 256
            i.to(torch.int8) - 1,           # i8
            (i > 0).float(),
            torch.where(m, i, 0),           # i64 with scalar
            x.double() * 1.5,               # f64
            x.half() + 1,                   # f16
            x.to(torch.bfloat16) * 2,       # bf16
            i.float().mean(1),
            m & (i > 0),
            i.to(torch.int32) + x.to(torch.float16),  # i32 + f16 -> f16
        )


register(Spec(
    "op_promotion",
    "Type promotion / casts: i64+f32, i64*float scalar, int true division, int floor "
    "division, bool+i64, bool*f32, bool sum, f32->i32/u8/i8/f64/f16/bf16 casts, where with "
    "int scalar, i32+f16. x f32[B,N], i i64[B,N] nonzero in [-300,300] (u8 cast wraps), "
    "m b8[B,N].",
    OpPromotion,
    lambda inp, b, n: (inp.randn(b, n),
                       (inp.nonzero(b, n, margin=1.0) * 40).clamp(-300, 300).round().to(torch.int64),
                       inp.randbool(b, n, true_last_row=True)),
    [dict(b=2, n=5), dict(b=4, n=3)],
    lambda: tuple({0: Dim("batch", min=1, max=32), 1: Dim("n", min=2, max=256)} for _ in range(3)),
    rtol=1e-3, atol=1e-3,
))


class OpRotary(nn.Module):
    def __init__(self, dim=8, base=10000.0):
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    @staticmethod
    def rotate_half(x):
        half = x.shape[-1] // 2
        return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

    def forward(self, q, k):
        # q, k: f32[B,H,T,8]
        t = torch.arange(q.shape[2], dtype=torch.float32)
        freqs = torch.outer(t, self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        return q * cos + self.rotate_half(q) * sin, k * cos + self.rotate_half(k) * sin


register(Spec(
    "op_rotary",
    "Rotary embedding pattern: arange(T) float, outer with inv_freq (non-persistent buffer), "
    "cat, cos, sin, rotate_half (slice, neg, cat). q, k: f32[B,2,T,8].",
    OpRotary,
    lambda inp, b, t: (inp.randn(b, 2, t, 8), inp.randn(b, 2, t, 8)),
    [dict(b=2, t=6), dict(b=1, t=11)],
    lambda: tuple({0: Dim("batch", min=1, max=32), 2: Dim("t", min=2, max=512)} for _ in range(2)),
    rtol=1e-4, atol=1e-4,
))


# ----------------------------------------------------------------------------------------
# Manifest helpers
# ----------------------------------------------------------------------------------------


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def tensor_bytes(t):
    t = t.detach().cpu().contiguous().reshape(-1)
    if t.numel() == 0:
        return b""
    return t.view(torch.uint8).numpy().tobytes()


def dim_str(d):
    if isinstance(d, torch.SymInt):
        return str(d.node.expr)
    return str(int(d))


def val_entry(name, val):
    if isinstance(val, torch.Tensor):
        return {"name": name, "kind": "tensor", "dtype": DTYPE_SHORT.get(val.dtype, str(val.dtype)),
                "shape": [dim_str(d) for d in val.shape]}
    if isinstance(val, torch.SymInt):
        return {"name": name, "kind": "sym_int", "dtype": "i64", "shape": [],
                "expr": str(val.node.expr)}
    if isinstance(val, torch.SymFloat):
        return {"name": name, "kind": "sym_float", "dtype": "f64", "shape": [],
                "expr": str(val.node.expr)}
    if isinstance(val, torch.SymBool):
        return {"name": name, "kind": "sym_bool", "dtype": "b8", "shape": [],
                "expr": str(val.node.expr)}
    if isinstance(val, bool):
        return {"name": name, "kind": "constant", "dtype": "b8", "shape": [], "value": val}
    if isinstance(val, int):
        return {"name": name, "kind": "constant", "dtype": "i64", "shape": [], "value": val}
    if isinstance(val, float):
        return {"name": name, "kind": "constant", "dtype": "f64", "shape": [], "value": val}
    return {"name": name, "kind": type(val).__name__, "dtype": None, "shape": []}


def bound(v):
    s = str(v)
    if s in ("oo", "-oo", "int_oo", "-int_oo") or "oo" in s:
        return None
    return int(v)


def target_str(t):
    if isinstance(t, torch._ops.OpOverload):
        return str(t)  # e.g. aten.linear.default
    if isinstance(t, torch._ops.HigherOrderOperator):
        return "higher_order." + t.name()
    mod = getattr(t, "__module__", None) or "builtins"
    return f"{mod}.{getattr(t, '__name__', str(t))}"


def all_graph_modules(ep):
    return [m for m in ep.graph_module.modules() if isinstance(m, torch.fx.GraphModule)]


def build_manifest(spec, ep, description, cases):
    from torch.export.graph_signature import ConstantArgument, InputKind

    sig = ep.graph_signature
    in_kind = {InputKind.CONSTANT_TENSOR: "tensor_constant"}
    input_specs = []
    for s in sig.input_specs:
        kind = in_kind.get(s.kind, s.kind.name.lower())
        if s.kind == InputKind.USER_INPUT and isinstance(s.arg, ConstantArgument):
            kind = "constant_input"
        input_specs.append({"kind": kind, "name": getattr(s.arg, "name", None),
                            "target": s.target, "persistent": s.persistent})
    output_specs = [{"kind": s.kind.name.lower(), "name": getattr(s.arg, "name", None),
                     "target": s.target} for s in sig.output_specs]

    placeholders = {n.name: n for n in ep.graph.nodes if n.op == "placeholder"}
    user_inputs = []
    for s in sig.input_specs:
        if s.kind == InputKind.USER_INPUT:
            n = placeholders.get(s.arg.name)
            if n is not None:
                user_inputs.append(val_entry(n.name, n.meta.get("val")))
            else:
                user_inputs.append(val_entry(s.arg.name, getattr(s.arg, "value", None)))

    out_node = next(n for n in ep.graph.nodes if n.op == "output")
    out_args = out_node.args[0]
    user_outputs = []
    for s, a in zip(sig.output_specs, out_args):
        if s.kind.name != "USER_OUTPUT":
            continue
        if isinstance(a, torch.fx.Node):
            user_outputs.append(val_entry(a.name, a.meta.get("val")))
        else:
            user_outputs.append(val_entry(getattr(s.arg, "name", None), a))

    weights = {}
    for source, d in (("state_dict", ep.state_dict), ("constants", ep.constants)):
        for fqn, t in d.items():
            if not isinstance(t, torch.Tensor):
                continue
            weights[fqn] = {"source": source, "dtype": DTYPE_SHORT.get(t.dtype, str(t.dtype)),
                            "shape": [int(x) for x in t.shape],
                            "fnv1a64": fnv1a64(tensor_bytes(t)),
                            "sum": float(t.detach().double().sum())}

    ops = {}
    for gm in all_graph_modules(ep):
        for n in gm.graph.nodes:
            if n.op == "call_function":
                k = target_str(n.target)
                ops[k] = ops.get(k, 0) + 1

    return {
        "model": spec.name,
        "torch_version": torch.__version__,
        "description": description,
        "range_constraints": dict(sorted(
            (str(k), [bound(v.lower), bound(v.upper)]) for k, v in ep.range_constraints.items())),
        "input_specs": input_specs,
        "output_specs": output_specs,
        "user_inputs": user_inputs,
        "user_outputs": user_outputs,
        "weights": weights,
        "ops": dict(sorted(ops.items())),
        "cases": cases,
    }


# ----------------------------------------------------------------------------------------
# Per-model pipeline
# ----------------------------------------------------------------------------------------


def strip_meta(ep, aggressive=False):
    keep = {"val", "tensor_meta", "nn_module_stack", "source_fn_stack", "torch_fn", "custom",
            "from_node", "seq_nr"}
    for gm in all_graph_modules(ep):
        for n in gm.graph.nodes:
            n.meta.pop("stack_trace", None)
            if aggressive:
                for k in list(n.meta.keys()):
                    if k not in keep:
                        n.meta.pop(k, None)
                nms = n.meta.get("nn_module_stack")
                if nms:  # values are (path, type); type may be a class: keep only its qualname
                    n.meta["nn_module_stack"] = {
                        k: (v[0], v[1] if isinstance(v[1], str) else
                            f"{v[1].__module__}.{v[1].__qualname__}")
                        for k, v in nms.items()}


def forbidden_in(path):
    found = set()
    with open(path, "rb") as f:
        data = f.read()
    for s in FORBIDDEN:
        if s in data:
            found.add(s.decode())
    # also look inside the archive entries in case they ever get compressed
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            blob = z.read(info)
            for s in FORBIDDEN:
                if s in blob:
                    found.add(f"{s.decode()} in {info.filename.split('/', 1)[-1]}")
    return sorted(found)


def to_np(v):
    """Return (ndarray, short dtype) for a flattened output / input leaf."""
    if isinstance(v, torch.Tensor):
        v = v.detach().cpu()
        dt = DTYPE_SHORT.get(v.dtype, str(v.dtype))
        if v.dtype == torch.bfloat16:
            v = v.float()
        return v.contiguous().numpy(), dt
    if isinstance(v, bool):
        return np.array(v, dtype=np.bool_), "b8"
    if isinstance(v, int):
        return np.array(v, dtype=np.int64), "i64"
    if isinstance(v, float):
        return np.array(v, dtype=np.float64), "f64"
    raise TypeError(f"unsupported output leaf {type(v).__name__}")


def from_np(a, dt):
    t = torch.from_numpy(np.array(a))
    if dt in SHORT_DTYPE:
        t = t.to(SHORT_DTYPE[dt])
    return t


def clone_args(args):
    return tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)


def compare(got, want, dt, rtol, atol):
    """Max abs error between reloaded-program output and stored eager output (or raises)."""
    g, _ = to_np(got)
    if g.shape != want.shape:
        raise AssertionError(f"shape mismatch {g.shape} vs {want.shape}")
    if dt == "b8" or want.dtype.kind in "iub":
        if not np.array_equal(g, want):
            raise AssertionError(f"{dt} values differ")
        return 0.0
    g64, w64 = g.astype(np.float64), want.astype(np.float64)
    if not np.allclose(g64, w64, rtol=rtol, atol=atol, equal_nan=True):
        raise AssertionError(f"{dt} max abs err {np.nanmax(np.abs(g64 - w64))}")
    return float(np.nanmax(np.abs(g64 - w64))) if g64.size else 0.0


def build_model(spec, attn=None):
    if getattr(spec, "hf", None):
        if spec.hf == "bert":
            return BertWrapper(attn)
        return CausalLMWrapper(spec.hf, attn)
    return spec.build()


def export_model(spec, model, args):
    errors = []
    for i, ds in enumerate(spec.dynamic_shapes):
        try:
            ep = torch.export.export(copy.deepcopy(model), args, dynamic_shapes=ds(), strict=False)
            return ep, i, errors
        except Exception as e:  # noqa: BLE001
            errors.append(f"dynamic_shapes alternative {i}: {type(e).__name__}: {first_line(e)}")
            print(f"    export alternative {i} failed: {first_line(e)}")
    raise RuntimeError("export failed: " + " | ".join(errors))


def first_line(e, limit=400):
    s = str(e).strip().splitlines()
    s = s[0] if s else type(e).__name__
    s = re.sub(r"(/[^\s'\"]*)?/site-packages/", "<site-packages>/", s)
    s = re.sub(r"/(work|root|home)/[^\s'\"]*", "<path>", s)
    return s[:limit]


def outside_ranges(ep, args):
    """'' if the concrete input sizes satisfy ep.range_constraints, else a description."""
    from torch.export.graph_signature import InputKind

    bounds = {str(k): (bound(v.lower), bound(v.upper)) for k, v in ep.range_constraints.items()}
    ph = {n.name: n for n in ep.graph.nodes if n.op == "placeholder"}
    users = [s.arg.name for s in ep.graph_signature.input_specs if s.kind == InputKind.USER_INPUT]
    flat_args, _ = tree_flatten(args)
    bad = []
    for name, a in zip(users, flat_args):
        val = ph[name].meta.get("val") if name in ph else None
        if not isinstance(val, torch.Tensor) or not isinstance(a, torch.Tensor):
            continue
        for d, n in zip(val.shape, a.shape):
            key = dim_str(d)
            if key in bounds:
                lo, hi = bounds[key]
                if (lo is not None and n < lo) or (hi is not None and n > hi):
                    bad.append(f"{name}: {key}={n} not in [{lo}, {hi}]")
    return ", ".join(bad)


def make_one(spec, ver_dir):
    name = spec.name
    out_dir = os.path.join(ver_dir, name)
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)

    seed = 1000 + sum(ord(c) for c in name)
    attn_options = ["sdpa", "eager"] if getattr(spec, "hf", None) else [None]
    last_err = None
    for attn in attn_options:
        torch.manual_seed(seed)
        model = build_model(spec, attn).eval()
        example = spec.make_inputs(Inputs(seed + 1), **spec.cases[0])
        try:
            ep, alt, notes = export_model(spec, model, example)
            break
        except Exception as e:  # noqa: BLE001
            last_err = e
            if attn:
                print(f"    export with attn_implementation={attn} failed")
    else:
        raise last_err

    inp = Inputs(seed + 1)  # regenerates the example as case 0
    case_args = [spec.make_inputs(inp, **c) for c in spec.cases_for(alt)]
    description = spec.description.replace("{attn}", str(attn))
    if alt:
        description += f" [export fell back to dynamic_shapes alternative {alt}: {'; '.join(notes)}]"
    kept = [a for a in case_args if not outside_ranges(ep, a)]
    if len(kept) < len(case_args):
        dropped = [outside_ranges(ep, a) for a in case_args if outside_ranges(ep, a)]
        print(f"    dropped {len(dropped)} case(s) outside range_constraints: {dropped}")
        description += f" [dropped {len(dropped)} case(s) outside range_constraints: {'; '.join(dropped)}]"
    if len(kept) < 2:
        raise RuntimeError("fewer than two cases fit the exported range_constraints")
    case_args = kept

    os.makedirs(out_dir)
    strip_meta(ep)
    pt2 = os.path.join(out_dir, "model.pt2")
    torch.export.save(ep, pt2)
    bad = forbidden_in(pt2)
    if bad:
        print(f"    local paths found after stripping stack_trace ({bad}); stripping more meta")
        strip_meta(ep, aggressive=True)
        torch.export.save(ep, pt2)
        bad = forbidden_in(pt2)
        if bad:
            raise RuntimeError(f"model.pt2 still contains local paths: {bad}")

    # Eager outputs: each case starts from a pristine copy of the model (mutable state).
    cases = []
    stored = []
    for k, args in enumerate(case_args):
        entry = {"inputs": [], "outputs": []}
        for i, a in enumerate(args):
            arr, dt = to_np(a)
            fn = f"case{k}_in{i}.npy"
            np.save(os.path.join(out_dir, fn), arr)
            entry["inputs"].append({"file": fn, "dtype": dt, "shape": list(arr.shape)})
        m = copy.deepcopy(model)
        out = m(*clone_args(args))
        leaves, _ = tree_flatten(out)
        outs = []
        for j, leaf in enumerate(leaves):
            arr, dt = to_np(leaf)
            fn = f"case{k}_out{j}.npy"
            np.save(os.path.join(out_dir, fn), arr)
            entry["outputs"].append({"file": fn, "dtype": dt, "shape": list(arr.shape)})
            outs.append((fn, dt))
        cases.append(entry)
        stored.append(outs)

    manifest = build_manifest(spec, ep, description, cases)
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")

    # Round trip: reload the archive, run every case, compare with the stored .npy files.
    max_err = 0.0
    for k, entry in enumerate(cases):
        args = tuple(from_np(np.load(os.path.join(out_dir, e["file"])), e["dtype"])
                     for e in entry["inputs"])
        loaded = torch.export.load(pt2).module()  # fresh state per case
        got, _ = tree_flatten(loaded(*args))
        if len(got) != len(stored[k]):
            raise AssertionError(f"case {k}: {len(got)} outputs after reload, {len(stored[k])} stored")
        for g, (fn, dt) in zip(got, stored[k]):
            try:
                err = compare(g, np.load(os.path.join(out_dir, fn)), dt, spec.rtol, spec.atol)
            except AssertionError as e:
                raise AssertionError(f"reloaded program disagrees on {fn}: {e}") from None
            max_err = max(max_err, err)

    size = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
    return {"name": name, "size_bytes": size, "cases": len(cases),
            "user_inputs": len(manifest["user_inputs"]), "user_outputs": len(manifest["user_outputs"]),
            "reload_max_abs_err": max_err, "attn_implementation": attn}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="fixture root, e.g. tests/fixtures")
    ap.add_argument("--only", default="", help="comma-separated model names")
    ap.add_argument("--list", action="store_true", help="list model names and exit")
    opts = ap.parse_args()

    if opts.list:
        for s in SPECS:
            print(s.name)
        return 0

    names = [n for n in opts.only.split(",") if n] if opts.only else [s.name for s in SPECS]
    unknown = sorted(set(names) - {s.name for s in SPECS})
    if unknown:
        print(f"unknown model(s): {', '.join(unknown)}", file=sys.stderr)
        return 2

    ver = ".".join(torch.__version__.split("+")[0].split(".")[:2])
    ver_dir = os.path.join(opts.out, f"torch{ver}")
    os.makedirs(ver_dir, exist_ok=True)
    index_path = os.path.join(ver_dir, "index.json")
    index = {"models": [], "skipped": []}
    if opts.only and os.path.exists(index_path):
        with open(index_path) as f:
            index = json.load(f)

    def versions():
        out = {"torch": torch.__version__, "numpy": np.__version__,
               "python": platform.python_version()}
        for mod in ("torchvision", "transformers"):
            try:
                out[mod] = __import__(mod).__version__
            except Exception:  # noqa: BLE001
                out[mod] = None
        return out

    written, skipped = [], []
    for spec in SPECS:
        if spec.name not in names:
            continue
        print(f"[{spec.name}]", flush=True)
        try:
            info = make_one(spec, ver_dir)
            written.append(info)
            print(f"    ok: {info['size_bytes']} bytes, {info['cases']} cases, "
                  f"reload max abs err {info['reload_max_abs_err']:.3g}", flush=True)
        except Exception as e:  # noqa: BLE001
            traceback.print_exc(limit=3)
            reason = f"{type(e).__name__}: {first_line(e)}"
            print(f"    SKIPPED: {reason}", flush=True)
            skipped.append({"name": spec.name, "reason": reason})
            shutil.rmtree(os.path.join(ver_dir, spec.name), ignore_errors=True)

    done = {m["name"] for m in written} | {s["name"] for s in skipped}
    index["models"] = [m for m in index.get("models", []) if m["name"] not in done] + written
    index["skipped"] = [s for s in index.get("skipped", []) if s["name"] not in done] + skipped
    order = {s.name: i for i, s in enumerate(SPECS)}
    index["models"].sort(key=lambda m: order.get(m["name"], 1 << 30))
    index["skipped"].sort(key=lambda m: order.get(m["name"], 1 << 30))
    index = {"torch_version": torch.__version__, "versions": versions(),
             "models": index["models"], "skipped": index["skipped"]}
    with open(index_path, "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")

    print(f"\nwrote {len(written)} model(s), skipped {len(skipped)}: "
          f"{', '.join(s['name'] for s in skipped) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
