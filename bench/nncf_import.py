"""Imports NNCF beside an older PyTorch.

NNCF (3.x) builds a table of torch dtypes when it is imported, naming
torch.uint16/uint32/uint64, which PyTorch added in 2.3; with Debian's
PyTorch 1.13 in the same environment the import fails although the
benchmarks use NNCF's OpenVINO backend only. Placeholders for the missing
names let the import finish; NNCF's torch backend is never used here.
"""
import sys


def import_nncf():
    torch = sys.modules.get("torch")
    if torch is not None:
        for name in ("uint16", "uint32", "uint64"):
            if not hasattr(torch, name):
                setattr(torch, name, torch.int64)
    import nncf
    return nncf
