#!/usr/bin/env python3
"""Regenerate model/kinesis.json and model/kms.json from a botocore wheel.

usage: scripts/extract_model.py [WHEEL]
Without WHEEL it runs `pip download --no-deps botocore` into a temporary folder.

model/kms.json keeps only the KMS operations the built-in key service serves
(KMS_OPERATIONS) and the shapes they reach.

Only facts are kept: metadata, operations (name, input, output, errors, traits),
shapes (types, members, constraints, enums, traits). AWS's documentation strings
are dropped. Member order is the model's own (AWS reports validation errors in it).
"""
import glob
import gzip
import json
import os
import subprocess
import sys
import tempfile
import zipfile

MODEL_PATH = "botocore/data/kinesis/2013-12-02/service-2.json.gz"
KMS_MODEL_PATH = "botocore/data/kms/2014-11-01/service-2.json.gz"
KMS_OPERATIONS = [
    "CreateKey", "DescribeKey", "ListKeys", "CreateAlias", "ListAliases", "DeleteAlias",
    "EnableKey", "DisableKey", "ScheduleKeyDeletion", "CancelKeyDeletion", "Encrypt",
    "Decrypt", "GenerateDataKey",
]
PROSE_KEYS = {"documentation", "documentationUrl", "examples", "deprecatedMessage"}


def strip(node):
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k not in PROSE_KEYS}
    if isinstance(node, list):
        return [strip(x) for x in node]
    return node


def reachable(shapes, roots):
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        shape = shapes[name]
        for key in ("member", "key", "value"):
            if key in shape:
                todo.append(shape[key]["shape"])
        for member in shape.get("members", {}).values():
            todo.append(member["shape"])
    return seen


def write_kms(root, z, version):
    raw = json.loads(gzip.decompress(z.read(KMS_MODEL_PATH)))
    ops = {name: raw["operations"][name] for name in KMS_OPERATIONS}
    roots = []
    for op in ops.values():
        for key in ("input", "output"):
            if key in op:
                roots.append(op[key]["shape"])
        roots.extend(e["shape"] for e in op.get("errors", []))
    keep = reachable(raw["shapes"], roots)
    model = {
        "source": {"package": "botocore", "version": version, "path": KMS_MODEL_PATH},
        "metadata": strip(raw["metadata"]),
        "operations": strip(ops),
        "shapes": strip({k: v for k, v in raw["shapes"].items() if k in keep}),
    }
    out = os.path.join(root, "model", "kms.json")
    with open(out, "w") as f:
        json.dump(model, f, indent=1)
        f.write("\n")
    print(f"wrote {out}: botocore {version}, {len(ops)} operations, {len(model['shapes'])} shapes")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if len(sys.argv) > 1:
        wheel = sys.argv[1]
    else:
        tmp = tempfile.mkdtemp()
        subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, "botocore"])
        wheel = glob.glob(os.path.join(tmp, "botocore-*.whl"))[0]
    version = os.path.basename(wheel).split("-")[1]
    with zipfile.ZipFile(wheel) as z:
        raw = json.loads(gzip.decompress(z.read(MODEL_PATH)))
        write_kms(root, z, version)
    model = {
        "source": {"package": "botocore", "version": version, "path": MODEL_PATH},
        "metadata": strip(raw["metadata"]),
        "operations": strip(raw["operations"]),
        "shapes": strip(raw["shapes"]),
    }
    out = os.path.join(root, "model", "kinesis.json")
    with open(out, "w") as f:
        json.dump(model, f, indent=1)
        f.write("\n")
    print(f"wrote {out}: botocore {version}, {len(model['operations'])} operations, {len(model['shapes'])} shapes")


if __name__ == "__main__":
    main()
