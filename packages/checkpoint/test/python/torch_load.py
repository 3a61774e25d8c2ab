"""Load a .pth with torch (optionally weights_only=True), describe what torch sees as JSON
on stdout, and re-save it with torch.save to a second path (so the caller can compare
torch's own bytes with what it wrote).

usage: torch_load.py IN.pth OUT.pth [--weights-only]
"""
import collections
import json
import sys

import torch


def describe(v):
    if isinstance(v, torch.Tensor):
        return {
            "tensor": str(v.dtype).replace("torch.", ""),
            "shape": list(v.shape),
            "contiguous": v.is_contiguous(),
            "requires_grad": v.requires_grad,
            "sum": float(v.double().sum()) if v.numel() and not v.dtype.is_complex else 0.0,
        }
    if isinstance(v, collections.OrderedDict):
        return {"OrderedDict": [[k, describe(x)] for k, x in v.items()]}
    if isinstance(v, dict):
        return {"dict": [[k, describe(x)] for k, x in v.items()]}
    if isinstance(v, tuple):
        return {"tuple": [describe(x) for x in v]}
    if isinstance(v, list):
        return {"list": [describe(x) for x in v]}
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int):
        return {"int": str(v)}
    if isinstance(v, float):
        return {"float": v}
    return {"other": type(v).__name__}


def main():
    src, dst = sys.argv[1], sys.argv[2]
    weights_only = "--weights-only" in sys.argv[3:]
    obj = torch.load(src, map_location="cpu", weights_only=weights_only) if weights_only else torch.load(src, map_location="cpu")
    torch.save(obj, dst)
    print(json.dumps({"torch": torch.__version__, "weights_only": weights_only, "value": describe(obj)}))


if __name__ == "__main__":
    main()
