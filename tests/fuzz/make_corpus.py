#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets from the committed fixtures.

    python3 tests/fuzz/make_corpus.py            # rewrites tests/fuzz/corpus/<target>/

Standard library only. Deterministic: the same fixtures give byte-identical seeds. Seeds are
named after a hash of their content, as libFuzzer names the inputs it adds.
"""

import hashlib
import json
import re
import shutil
import struct
import zipfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
OUT = ROOT / "tests" / "fuzz" / "corpus"

# Small archives that between them hold tied weights, bf16/fp16 weights, buffers, lifted
# constants, symbolic ints, several outputs and both torch versions.
PT2_FIXTURES = [
    "samples/export_fixture_torch211.pt2",
    "torch2.11/mlp/model.pt2",
    "torch2.11/tied_weights/model.pt2",
    "torch2.11/half_weights/model.pt2",
    "torch2.11/buffer_mutation/model.pt2",
    "torch2.11/multi_io/model.pt2",
    "torch2.15/inplace_ops/model.pt2",
]
# Model JSON seeds: those archives' models plus a few more op families.
JSON_EXTRA = [
    "samples/tiny_conv_bn_ln_sdpa_torch211.pt2",
    "torch2.11/op_indexing/model.pt2",
    "torch2.11/op_shape/model.pt2",
    "torch2.11/op_rotary/model.pt2",
    "torch2.11/op_attention/model.pt2",
    "torch2.15/op_norms/model.pt2",
]


def write_seed(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


# ---- zip writing (the layouts the reader must accept) -------------------------------------


def pack_zip(entries, style="pytorch", comment=b""):
    """entries: [(name, bytes, method)]. style: pytorch | plain | zip64."""
    pt = style != "plain"
    z64 = style == "zip64"
    out, cd = bytearray(), bytearray()
    for name, data, method in entries:
        name = name.encode()
        offset = len(out)
        crc = zlib.crc32(data) & 0xFFFFFFFF
        extra = b""
        if pt:
            pad = (64 - (offset + 30 + len(name) + 4) % 64) % 64
            extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x0808 if pt else 0, method, 0, 0,
                           0 if pt else crc, 0 if pt else len(data), 0 if pt else len(data),
                           len(name), len(extra))
        out += name + extra + data
        if pt:
            out += struct.pack("<IIII", 0x08074B50, crc, len(data), len(data))
        cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset) if z64 else b""
        small = 0xFFFFFFFF if z64 else len(data)
        cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0x0808 if pt else 0, method,
                          0, 0, crc, small, small, len(name), len(cextra), 0, 0, 0, 0,
                          0xFFFFFFFF if z64 else offset)
        cd += name + cextra
    cd_offset = len(out)
    out += cd
    if pt:
        record = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(entries),
                           len(entries), len(cd), cd_offset)
        out += struct.pack("<IIQI", 0x07064B50, 0, record, 1)
    n = 0xFFFF if z64 else len(entries)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, 0xFFFFFFFF if z64 else len(cd),
                       0xFFFFFFFF if z64 else cd_offset, len(comment))
    return bytes(out + comment)


def unpack_zip(path):
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i), 0) for i in z.infolist()]


def model_json(path):
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.endswith("/models/model.json"))
        return z.read(name).decode()


# ---- the hand-built program with every Argument kind (as in deserialize_test.cpp) ----------

S0 = "Symbol('s0', positive=True, integer=True)"


def int_(v):
    return {"as_int": v}


def expr(e):
    return {"as_expr": {"expr_str": e, "hint": None}}


def tensor_meta(dtype, sizes, strides):
    return {"dtype": dtype, "sizes": sizes, "requires_grad": False,
            "device": {"type": "cpu", "index": None}, "strides": strides,
            "storage_offset": int_(0), "layout": 7}


def subgraph(op):
    t = tensor_meta(7, [expr(S0), int_(4)], [int_(4), int_(1)])
    return {"inputs": [{"as_tensor": {"name": "x_1"}}],
            "nodes": [{"target": op, "inputs": [{"name": "self", "arg": {"as_tensor": {"name": "x_1"}},
                                                 "kind": 1}],
                       "outputs": [{"as_tensor": {"name": "r"}}], "metadata": {}, "name": "r"}],
            "outputs": [{"as_tensor": {"name": "r"}}], "tensor_values": {"x_1": t, "r": t},
            "sym_int_values": {}, "sym_bool_values": {}, "is_single_tensor_return": True}


def everything_program():
    x = tensor_meta(7, [expr(S0), int_(4)], [int_(4), int_(1)])
    w = tensor_meta(7, [int_(2), int_(4)], [int_(4), int_(1)])
    row = tensor_meta(7, [int_(1), int_(4)], [int_(4), int_(1)])
    strided = tensor_meta(6, [int_(4), int_(2)], [int_(1), int_(4)])
    strided["storage_offset"] = int_(2)
    strided["device"] = {"type": "cuda", "index": 0}

    def arg(name, a, kind=2):
        return {"name": name, "arg": a, "kind": kind}

    nodes = [
        {"target": "torch.ops.aten.sym_size.int",
         "inputs": [arg("self", {"as_tensor": {"name": "x"}}, 1), arg("dim", int_(0), 1)],
         "outputs": [{"as_sym_int": {"as_name": "sym_size_int"}}],
         "metadata": {"nn_module_stack": "L__self__,,M"}, "name": "sym_size_int"},
        {"target": "_operator.eq",
         "inputs": [arg("a", {"as_sym_int": {"as_name": "sym_size_int"}}, 1), arg("b", int_(4), 1)],
         "outputs": [{"as_sym_bool": {"as_name": "eq"}}], "metadata": {}, "name": "eq"},
        {"target": "_operator.truediv",
         "inputs": [arg("a", {"as_sym_int": {"as_name": "n"}}, 1), arg("b", int_(2), 1)],
         "outputs": [{"as_sym_float": {"as_name": "truediv"}}], "metadata": {}, "name": "truediv"},
        {"target": "torch.ops.test.everything.default",
         "inputs": [
             arg("none", {"as_none": True}), arg("tensor", {"as_tensor": {"name": "x"}}, 1),
             arg("tensors", {"as_tensors": [{"name": "x"}, {"name": "p_w"}]}),
             arg("int", int_(-5)), arg("ints", {"as_ints": [1, -2, 9007199254740993]}),
             arg("float", {"as_float": 0.1}),
             arg("floats", {"as_floats": ["Infinity", "-Infinity", "NaN", 1.5, 2]}),
             arg("string", {"as_string": "a\"b\n"}), arg("strings", {"as_strings": ["x", ""]}),
             arg("sym_int", {"as_sym_int": {"as_name": "n"}}),
             arg("sym_ints", {"as_sym_ints": [{"as_name": "sym_size_int"}, {"as_int": 3}]}),
             arg("scalar_type", {"as_scalar_type": 13}), arg("memory_format", {"as_memory_format": 2}),
             arg("layout", {"as_layout": 7}), arg("device", {"as_device": {"type": "cuda", "index": 1}}),
             arg("bool", {"as_bool": True}), arg("bools", {"as_bools": [False, True]}),
             arg("sym_bool", {"as_sym_bool": {"as_name": "eq"}}),
             arg("sym_bools", {"as_sym_bools": [{"as_bool": True}, {"as_name": "eq"}]}),
             arg("optional_tensors",
                 {"as_optional_tensors": [{"as_tensor": {"name": "x"}}, {"as_none": True}]}),
             arg("optional_tensor", {"as_optional_tensor": {"as_none": True}}),
             arg("custom_obj", {"as_custom_obj": {"name": "obj",
                                                  "class_fqn": "__torch__.torch.classes.Foo"}}),
             arg("operator", {"as_operator": "torch.ops.aten.add.Tensor"}),
             arg("sym_float", {"as_sym_float": {"as_name": "truediv"}}),
             arg("sym_floats", {"as_sym_floats": [{"as_float": "NaN"}, {"as_name": "truediv"}]}),
             arg("kind_unknown", int_(0), 0)],
         "outputs": [{"as_tensor": {"name": "everything"}}], "metadata": {}, "name": "everything"},
        {"target": "torch.ops.higher_order.cond",
         "inputs": [arg("", {"as_sym_bool": {"as_name": "eq"}}, 1),
                    arg("", {"as_graph": {"name": "true_graph_0",
                                          "graph": subgraph("torch.ops.aten.sin.default")}}, 1),
                    arg("", {"as_graph": {"name": "false_graph_0",
                                          "graph": subgraph("torch.ops.aten.cos.default")}}, 1),
                    arg("", {"as_tensors": [{"name": "x"}]}, 1)],
         "outputs": [{"as_tensor": {"name": "cond"}}], "metadata": {},
         "is_hop_single_tensor_return": True, "name": "cond"},
        {"target": "torch.ops.aten.var_mean.correction",
         "inputs": [arg("self", {"as_tensor": {"name": "cond"}}, 1)],
         "outputs": [{"as_tensor": {"name": "getitem"}}, {"as_tensor": {"name": "var_mean_unused_1"}}],
         "metadata": {}, "name": "var_mean"},
        {"target": "torch.ops.aten.split.Tensor",
         "inputs": [arg("self", {"as_tensor": {"name": "p_w"}}, 1), arg("split_size", int_(1), 1)],
         "outputs": [{"as_tensors": [{"name": "split_0"}, {"name": "split_1"}]}], "metadata": {}},
        {"target": "torch.ops.aten.add_.Tensor",
         "inputs": [arg("self", {"as_tensor": {"name": "b_buf"}}, 1), arg("other", int_(1), 1)],
         "outputs": [{"as_tensor": {"name": "add_"}}], "metadata": {}, "name": "add_"},
    ]
    graph = {
        "inputs": [{"as_tensor": {"name": "p_w"}}, {"as_tensor": {"name": "b_buf"}},
                   {"as_custom_obj": {"name": "obj", "class_fqn": "__torch__.torch.classes.Foo"}},
                   {"as_tensor": {"name": "x"}}, {"as_sym_int": {"as_name": "n"}}, {"as_int": 3},
                   {"as_none": True}],
        "nodes": nodes,
        "outputs": [{"as_tensor": {"name": "add_"}}, {"as_tensor": {"name": "everything"}},
                    {"as_sym_int": {"as_name": "sym_size_int"}}, {"as_none": True}, {"as_int": 5}],
        "tensor_values": {"p_w": w, "b_buf": w, "x": x, "everything": x, "cond": x,
                          "getitem": strided, "split_0": row, "split_1": row, "add_": w,
                          "var_mean_unused_1": tensor_meta(7, [], [])},
        "sym_int_values": {"n": {"as_expr": {"expr_str": "Symbol('s1', integer=True)",
                                             "hint": {"as_int": 3}}},
                           "sym_size_int": {"as_expr": {"expr_str": "s0", "hint": None}}},
        "sym_bool_values": {"eq": {"as_expr": {"expr_str": "Eq(" + S0 + ", Integer(4))",
                                               "hint": None}}},
        "sym_float_values": {"truediv": {"as_expr": {"expr_str": "s1/2", "hint": None}}},
        "custom_obj_values": {"obj": {"name": "obj", "class_fqn": "__torch__.torch.classes.Foo"}},
        "is_single_tensor_return": False,
    }
    signature = {
        "input_specs": [
            {"parameter": {"arg": {"name": "p_w"}, "parameter_name": "w"}},
            {"buffer": {"arg": {"name": "b_buf"}, "buffer_name": "buf", "persistent": False}},
            {"custom_obj": {"arg": {"name": "obj", "class_fqn": "__torch__.torch.classes.Foo"},
                            "custom_obj_name": "obj"}},
            {"user_input": {"arg": {"as_tensor": {"name": "x"}}}},
            {"user_input": {"arg": {"as_sym_int": {"as_name": "n"}}}},
            {"constant_input": {"name": "k", "value": {"as_int": 3}}},
            {"user_input": {"arg": {"as_none": True}}}],
        "output_specs": [
            {"buffer_mutation": {"arg": {"name": "add_"}, "buffer_name": "buf"}},
            {"user_output": {"arg": {"as_tensor": {"name": "everything"}}}},
            {"user_output": {"arg": {"as_sym_int": {"as_name": "sym_size_int"}}}},
            {"user_output": {"arg": {"as_none": True}}},
            {"user_output": {"arg": {"as_int": 5}}}],
    }
    return {"schema_version": {"major": 8, "minor": 17}, "torch_version": "2.11.0",
            "verifiers": ["ATEN"], "opset_version": {"aten": 10}, "guards_code": [],
            "range_constraints": {"s0": {"min_val": 2, "max_val": None},
                                  "s1": {"min_val": None, "max_val": 10}},
            "graph_module": {"graph": graph, "signature": signature, "module_call_graph": []}}


# ---- npy ------------------------------------------------------------------------------------


def npy(descr, shape, data, fortran=False, version=1):
    shape_text = f"({shape[0]},)" if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")"
    header = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape_text}, }}"
    prefix = 10 if version == 1 else 12
    header += " " * ((64 - (prefix + len(header) + 1) % 64) % 64) + "\n"
    size = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + size + header.encode() + data


def main():
    if OUT.exists():
        shutil.rmtree(OUT)

    # pt2: fixtures as saved, and one repacked in the other layouts the reader accepts.
    for rel in PT2_FIXTURES:
        write_seed("pt2", (FIXTURES / rel).read_bytes())
    mlp = unpack_zip(FIXTURES / "torch2.11/mlp/model.pt2")
    write_seed("pt2", pack_zip(mlp, "plain"))
    write_seed("pt2", pack_zip(mlp, "zip64"))
    # Regression: a weight of storage_offset INT64_MAX overflowed the extent check.
    edited = []
    for name, data, method in mlp:
        if name.endswith("model_weights_config.json"):
            config = json.loads(data)
            meta = next(iter(config["config"].values()))["tensor_meta"]
            meta.update(sizes=[], strides=[], storage_offset={"as_int": 2**63 - 1})
            data = json.dumps(config).encode()
        edited.append((name, data, method))
    write_seed("pt2", pack_zip(edited))

    # zip: small synthetic archives in every layout, plus one real archive.
    files = [("archive/a.txt", b"hello zip", 0), ("archive/dir/b.bin", bytes(range(64)), 0),
             ("archive/empty", b"", 0)]
    for style in ("pytorch", "plain", "zip64"):
        write_seed("zip", pack_zip(files, style))
    write_seed("zip", pack_zip(files, "plain", comment=b"a comment"))
    write_seed("zip", pack_zip([("c.txt", zlib.compress(b"deflated")[2:-4], 8)], "plain"))
    write_seed("zip", pack_zip([], "plain"))
    write_seed("zip", (FIXTURES / "samples/export_fixture_torch211.pt2").read_bytes())

    # deserialize: model JSON of the archives, the hand-built program, a minimal program.
    exprs = set()
    for rel in PT2_FIXTURES + JSON_EXTRA:
        text = model_json(FIXTURES / rel)
        write_seed("deserialize", text)
        exprs.update(re.findall(r'"expr_str": "((?:[^"\\]|\\.)*)"', text))
    write_seed("deserialize", json.dumps(everything_program()))
    write_seed("deserialize", json.dumps({"graph_module": {"graph": {}}}))
    # Regression: nesting past the limit (100k levels used to exhaust the stack).
    deep = json.dumps(everything_program()).replace('"metadata": {}', '"metadata": {"k": @}', 1)
    write_seed("deserialize", deep.replace("@", "[" * 600 + "]" * 600))

    # sym_parse: every expression of the models and the manifests' shapes and range keys.
    for manifest in sorted(FIXTURES.glob("torch*/*/manifest.json")):
        m = json.loads(manifest.read_text())
        exprs.update(m.get("range_constraints", {}).keys())
        for io in m.get("user_inputs", []) + m.get("user_outputs", []):
            exprs.update(str(d) for d in io.get("shape") or [])
            if "expr" in io:
                exprs.add(str(io["expr"]))
    exprs.update([
        "((s0 + 1)//2)", "Max(1, s0) - Min(s1, 3)", "s0**3 % 7", "-9223372036854775808",
        "CeilToInt(IntTrueDiv(s0, 4))", "ModularIndexing(s0, 2, 8)", "Eq(s0, 4) & (s1 != 2)",
        "~(s0 < 3) | (s1 >= 9)", "LShift(s0, 3) + RShift(s1, 1)", "Abs(1 - s0)",
        "Piecewise((s0, s0 > 2), (1, True))",
        # Regressions: exponential expansion, huge powers, long runs (quadratic before).
        "*".join(f"(s{2 * i} + s{2 * i + 1})" for i in range(13)),
        "((s0**256)**16)**16",
        " + ".join(f"{i}*s{i}" for i in range(300)),
        "*".join(f"s{i % 7}" for i in range(300)),
    ])
    for e in sorted(exprs):
        write_seed("sym_parse", e)

    # npy: one fixture file per dtype and rank, and the variants the reader must handle.
    kinds = {}
    for path in sorted(FIXTURES.glob("torch2.11/*/*.npy")):
        data = path.read_bytes()
        header = data[:data.find(b"\n") + 1].decode("latin-1")
        descr = re.search(r"'descr': '([^']*)'", header).group(1)
        rank = re.search(r"'shape': \(([^)]*)\)", header).group(1).count(",")
        if len(data) <= 4096 and (descr, rank) not in kinds:
            kinds[(descr, rank)] = data
    for data in kinds.values():
        write_seed("npy", data)
    six = struct.pack("<6f", 1.5, -2.0, 3.25, 0.0, 7.0, -0.5)
    write_seed("npy", npy("<f4", (2, 3), six, fortran=True))
    write_seed("npy", npy("<f4", (3, 2), six, version=2))
    write_seed("npy", npy("<f4", (6,), six, version=3))
    write_seed("npy", npy(">i2", (3,), struct.pack(">3h", 1, -2, 300)))
    write_seed("npy", npy("|b1", (2, 2), bytes([1, 0, 0, 1])))
    write_seed("npy", npy("<f2", (), struct.pack("<e", 0.75)))
    write_seed("npy", npy("<u2", (0, 5), b""))
    write_seed("npy", npy("<i8", (1, 1, 2), struct.pack("<2q", -(2**63), 2**63 - 1), fortran=True))


if __name__ == "__main__":
    main()
