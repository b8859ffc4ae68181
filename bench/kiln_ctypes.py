"""A model library written by `kiln compile`, called through its C ABI (include/kiln/kiln.h)
with ctypes, with tensors as DLPack DLTensors over numpy arrays. No torch needed.

    model = KilnModel("model.so", num_threads=16)
    call = model.bind([x])          # DLTensors built once; x must stay alive and unchanged
    outs = model.run(call)          # list of numpy arrays (copied out of kiln's outputs)
    model.run_discard(call)         # the timed path: run, release the outputs
"""

import ctypes
import os

import numpy as np

ABI_VERSION = 1  # KILN_ABI_VERSION of include/kiln/kiln.h

KILN_OK = 0
_STATUS = {1: "INVALID_ARGUMENT", 2: "BAD_INPUT", 3: "LOAD", 4: "RUNTIME"}

_KDL_CPU = 1
# DLDataTypeCode
_DL_INT, _DL_UINT, _DL_FLOAT, _DL_BFLOAT, _DL_BOOL = 0, 1, 2, 4, 6


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("device", DLDevice),
        ("ndim", ctypes.c_int32),
        ("dtype", DLDataType),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]


class DLManagedTensor(ctypes.Structure):
    pass


_Deleter = ctypes.CFUNCTYPE(None, ctypes.POINTER(DLManagedTensor))
DLManagedTensor._fields_ = [
    ("dl_tensor", DLTensor),
    ("manager_ctx", ctypes.c_void_p),
    ("deleter", _Deleter),
]


class KilnOptions(ctypes.Structure):
    _fields_ = [
        ("num_runners", ctypes.c_int32),
        ("num_threads", ctypes.c_int32),
        ("device", ctypes.c_char_p),
        ("weights_path", ctypes.c_char_p),
    ]


class KilnTensorInfo(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("dtype", DLDataType),
        ("ndim", ctypes.c_int32),
        ("dims", ctypes.POINTER(ctypes.c_char_p)),
        ("dim_min", ctypes.POINTER(ctypes.c_int64)),
        ("dim_max", ctypes.POINTER(ctypes.c_int64)),
    ]


_NUMPY_TO_DL = {
    np.dtype(np.float32): (_DL_FLOAT, 32),
    np.dtype(np.float64): (_DL_FLOAT, 64),
    np.dtype(np.float16): (_DL_FLOAT, 16),
    np.dtype(np.int64): (_DL_INT, 64),
    np.dtype(np.int32): (_DL_INT, 32),
    np.dtype(np.int16): (_DL_INT, 16),
    np.dtype(np.int8): (_DL_INT, 8),
    np.dtype(np.uint8): (_DL_UINT, 8),
    np.dtype(np.bool_): (_DL_BOOL, 8),
}
_DL_TO_NUMPY = {v: k for k, v in _NUMPY_TO_DL.items()}


class KilnError(RuntimeError):
    pass


class BoundCall:
    """The DLTensors of one set of inputs, kept alive with the arrays they point into."""

    def __init__(self, arrays):
        self.arrays = [np.ascontiguousarray(a) for a in arrays]
        self._shapes = [(ctypes.c_int64 * max(a.ndim, 1))(*a.shape) for a in self.arrays]
        self._tensors = []
        for a, shape in zip(self.arrays, self._shapes):
            if a.dtype not in _NUMPY_TO_DL:
                raise KilnError(f"input dtype {a.dtype} has no DLPack mapping here")
            code, bits = _NUMPY_TO_DL[a.dtype]
            t = DLTensor()
            t.data = a.ctypes.data
            t.device = DLDevice(_KDL_CPU, 0)
            t.ndim = a.ndim
            t.dtype = DLDataType(code, bits, 1)
            t.shape = shape
            t.strides = None  # compact row-major
            t.byte_offset = 0
            self._tensors.append(t)
        self.pointers = (ctypes.POINTER(DLTensor) * len(self._tensors))(
            *[ctypes.pointer(t) for t in self._tensors])


class KilnModel:
    def __init__(self, path, num_threads=0, num_runners=1):
        path = os.path.abspath(path)
        if not os.path.exists(path):
            raise KilnError(f"{path}: no such model library")
        self.path = path
        self._lib = ctypes.CDLL(path, mode=os.RTLD_NOW | os.RTLD_LOCAL)
        lib = self._lib
        lib.kiln_abi_version.restype = ctypes.c_uint32
        lib.kiln_last_error.restype = ctypes.c_char_p
        lib.kiln_model_info.restype = ctypes.c_char_p
        lib.kiln_options_init.argtypes = [ctypes.POINTER(KilnOptions)]
        lib.kiln_container_create.argtypes = [ctypes.POINTER(ctypes.c_void_p),
                                              ctypes.POINTER(KilnOptions)]
        lib.kiln_container_delete.argtypes = [ctypes.c_void_p]
        lib.kiln_num_inputs.argtypes = [ctypes.c_void_p]
        lib.kiln_num_inputs.restype = ctypes.c_size_t
        lib.kiln_num_outputs.argtypes = [ctypes.c_void_p]
        lib.kiln_num_outputs.restype = ctypes.c_size_t
        lib.kiln_input_info.argtypes = [ctypes.c_void_p, ctypes.c_size_t,
                                        ctypes.POINTER(KilnTensorInfo)]
        lib.kiln_output_info.argtypes = lib.kiln_input_info.argtypes
        lib.kiln_run.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.POINTER(DLTensor)), ctypes.c_size_t,
            ctypes.c_void_p,  # caller-given outputs: always NULL here
            ctypes.POINTER(ctypes.POINTER(DLManagedTensor)), ctypes.c_size_t,
            ctypes.c_void_p,
        ]
        abi = lib.kiln_abi_version()
        if abi != ABI_VERSION:
            raise KilnError(f"{path}: ABI version {abi}, this loader speaks {ABI_VERSION}")

        options = KilnOptions()
        lib.kiln_options_init(ctypes.byref(options))
        options.num_threads = num_threads
        options.num_runners = num_runners
        self._container = ctypes.c_void_p()
        self._check(lib.kiln_container_create(ctypes.byref(self._container),
                                              ctypes.byref(options)), "kiln_container_create")
        self.num_inputs = lib.kiln_num_inputs(self._container)
        self.num_outputs = lib.kiln_num_outputs(self._container)
        self._managed = (ctypes.POINTER(DLManagedTensor) * self.num_outputs)()
        self._run = lib.kiln_run

    def _check(self, status, what):
        if status != KILN_OK:
            msg = (self._lib.kiln_last_error() or b"").decode(errors="replace")
            raise KilnError(f"{what}: {_STATUS.get(status, status)}: {msg}")

    def info(self):
        return (self._lib.kiln_model_info() or b"").decode(errors="replace")

    def tensor_info(self, index, output=False):
        info = KilnTensorInfo()
        fn = self._lib.kiln_output_info if output else self._lib.kiln_input_info
        self._check(fn(self._container, index, ctypes.byref(info)), "tensor info")
        return {
            "name": info.name.decode(),
            "dims": [info.dims[i].decode() for i in range(info.ndim)],
            "min": [info.dim_min[i] for i in range(info.ndim)],
            "max": [info.dim_max[i] for i in range(info.ndim)],
        }

    def bind(self, arrays):
        if len(arrays) != self.num_inputs:
            raise KilnError(f"{self.path}: takes {self.num_inputs} inputs, got {len(arrays)}")
        return BoundCall(arrays)

    def _call(self, call):
        status = self._run(self._container, call.pointers, self.num_inputs, None, self._managed,
                           self.num_outputs, None)
        if status != KILN_OK:
            self._check(status, "kiln_run")

    def run_discard(self, call):
        """Runs and releases kiln's outputs (what a caller that consumed them would pay)."""
        self._call(call)
        for m in self._managed:
            m.contents.deleter(m)

    def run(self, call):
        """Runs and returns copies of the outputs as numpy arrays."""
        self._call(call)
        out = []
        for m in self._managed:
            t = m.contents.dl_tensor
            key = (t.dtype.code, t.dtype.bits)
            if key not in _DL_TO_NUMPY:
                m.contents.deleter(m)
                raise KilnError(f"output dtype code {key[0]} bits {key[1]} not readable here")
            dtype = _DL_TO_NUMPY[key]
            shape = tuple(t.shape[i] for i in range(t.ndim))
            count = int(np.prod(shape)) if shape else 1
            if count == 0:
                out.append(np.empty(shape, dtype=dtype))
            else:
                size = count * dtype.itemsize
                buf = (ctypes.c_char * size).from_address(t.data + t.byte_offset)
                out.append(np.frombuffer(buf, dtype=dtype, count=count).reshape(shape).copy())
            m.contents.deleter(m)
        return out

    def close(self):
        if self._container:
            self._check(self._lib.kiln_container_delete(self._container), "kiln_container_delete")
            self._container = ctypes.c_void_p()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass
