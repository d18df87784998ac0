"""PyTorch .bin files as torch.save (>= 1.6) writes them, without torch: Python's own pickle writes
data.pkl and Python's zipfile the archive, so the seeds come from writers alloy did not write.

What torch.save puts in a file (the format, not torch's code): a zip archive of stored entries
<archive>/data.pkl, <archive>/byteorder ("little"), <archive>/data/<key> (each storage's raw
bytes) and <archive>/version; data.pkl pickles (protocol 2 by default) the saved object, each
tensor as a REDUCE of torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
requires_grad, backward_hooks), each storage as the persistent id ('storage', torch.<T>Storage,
key, location, numel), a Parameter as torch._utils._rebuild_parameter(tensor, requires_grad,
backward_hooks), and a state dict as an OrderedDict whose _metadata attribute goes to BUILD."""
import collections
import io
import pickle
import struct
import sys
import types
import zipfile

# Storage class name -> struct format of one element (bfloat16 and float16 as raw 16-bit words).
STORAGE_FORMATS = {"FloatStorage": "f", "DoubleStorage": "d", "HalfStorage": "H", "BFloat16Storage": "H",
                   "LongStorage": "q", "IntStorage": "i", "ShortStorage": "h", "CharStorage": "b",
                   "ByteStorage": "B", "BoolStorage": "?"}


def _named(module, name, obj):
    """Registers obj as module.name, so pickle writes it as that global."""
    obj.__module__, obj.__name__, obj.__qualname__ = module.__name__, name, name
    setattr(module, name, obj)
    return obj


# Stand-ins for the torch names a checkpoint's pickle refers to. Pickle writes a global by name
# after checking the name leads back to the object, so they live in modules called torch and
# torch._utils; nothing calls them.
torch = types.ModuleType("torch")
torch._utils = types.ModuleType("torch._utils")
_rebuild_tensor_v2 = _named(torch._utils, "_rebuild_tensor_v2", lambda *args: None)
_rebuild_parameter = _named(torch._utils, "_rebuild_parameter", lambda *args: None)
for _cls in STORAGE_FORMATS:
    _named(torch, _cls, type(_cls, (), {}))
sys.modules.setdefault("torch", torch)
sys.modules.setdefault("torch._utils", torch._utils)


class Storage:
    """A storage: a persistent id in data.pkl, its bytes in <archive>/data/<key>."""

    def __init__(self, cls, key, values, numel=None, raw=None):
        self.cls, self.key = cls, key
        self.raw = raw if raw is not None else struct.pack(f"<{len(values)}{STORAGE_FORMATS[cls]}", *values)
        self.numel = len(values) if numel is None else numel


class Tensor:
    """A view of a storage; the stride defaults to row-major."""

    def __init__(self, storage, size, offset=0, stride=None):
        self.storage, self.size, self.offset = storage, tuple(size), offset
        if stride is None:
            stride, step = [], 1
            for d in reversed(self.size):
                stride.insert(0, step)
                step *= d
        self.stride = tuple(stride)

    def __reduce_ex__(self, protocol):
        return _rebuild_tensor_v2, (self.storage, self.offset, self.size, self.stride, False,
                                    collections.OrderedDict())


class Parameter:
    def __init__(self, tensor):
        self.tensor = tensor

    def __reduce_ex__(self, protocol):
        return _rebuild_parameter, (self.tensor, True, collections.OrderedDict())


def state_dict(tensors, metadata=None):
    """An OrderedDict of name -> Tensor with _metadata, as module.state_dict() returns."""
    d = collections.OrderedDict(tensors)
    d._metadata = metadata if metadata is not None else collections.OrderedDict([("", {"version": 1})])
    return d


class _Pickler(pickle.Pickler):
    def __init__(self, file, protocol):
        super().__init__(file, protocol)
        self.storages = {}

    def persistent_id(self, obj):
        if not isinstance(obj, Storage):
            return None
        self.storages.setdefault(obj.key, obj)
        return "storage", getattr(torch, obj.cls), obj.key, "cpu", obj.numel


def data_pkl(obj, protocol=2):
    """(data.pkl's bytes, the storages it names in first-use order)."""
    out = io.BytesIO()
    pickler = _Pickler(out, protocol)
    pickler.dump(obj)
    return out.getvalue(), list(pickler.storages.values())


def zip_archive(members, compressed=(), zip64=False):
    """members: (name, bytes) in order, stored, with a fixed date so that reruns write the same bytes.
    zip64: zipfile's limits lowered to 0, so that it writes the zip64 records of an archive past
    4 GiB (and a zip64 extra field for each nonzero size and offset); zipfile leaves the small
    values in the end record too, which the specification (APPNOTE 4.4.1.4) sets to all ones
    when the zip64 record holds them, as here."""
    limits = zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT
    if zip64:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = 0, 0
    try:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            for name, data in members:
                info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED if name in compressed else zipfile.ZIP_STORED
                z.writestr(info, data)
        archive = out.getvalue()
    finally:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = limits
    if not zip64:
        return archive
    end = archive.rindex(b"PK\x05\x06")
    return archive[:end + 8] + struct.pack("<HHII", 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF) + archive[end + 20:]


def torch_save(obj, protocol=2, pickle_bytes=None, storages=None, byteorder=b"little", compressed=(), zip64=False):
    """The archive torch.save(obj) writes; pickle_bytes and storages replace what obj would give."""
    pkl, named = data_pkl(obj, protocol) if obj is not None else (b"", [])
    pkl = pkl if pickle_bytes is None else pickle_bytes
    members = [("archive/data.pkl", pkl), ("archive/byteorder", byteorder)]
    members += [(f"archive/data/{s.key}", s.raw) for s in (named if storages is None else storages)]
    members.append(("archive/version", b"3\n"))
    return zip_archive(members, compressed, zip64)
