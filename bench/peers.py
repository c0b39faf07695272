"""Peer programs and output checks for `bench/run.sh`.

  peers.py kcl FILE          run a KCL program with the real `kcl-lib` (PyPI) and print its YAML
  peers.py same KILN JSONNET KCL
                             check that the three outputs describe the same PyTorchJobs: kiln's
                             stamps (`kiln.dev/*` annotations, the `kiln.dev/run-of` label and the
                             content suffix of the name) are taken off, then the objects must be
                             equal. Exits 1 and names the first difference otherwise.
"""
import json
import sys


def kcl(path):
    import kcl_lib.api as api

    result = api.API().exec_program(api.ExecProgramArgs(k_filename_list=[path]))
    if result.err_message:
        sys.exit(f"kcl: {result.err_message}")
    sys.stdout.write(result.yaml_result)


def kiln_objects(text):
    import yaml

    out = []
    for doc in yaml.safe_load_all(text):
        if doc is None:
            continue
        meta = doc["metadata"]
        labels = meta.pop("labels", {})
        base = labels.pop("kiln.dev/run-of", None)
        if labels:
            meta["labels"] = labels
        if base is not None:
            meta["name"] = base
        notes = {k: v for k, v in meta.pop("annotations", {}).items() if not k.startswith("kiln.dev/")}
        if notes:
            meta["annotations"] = notes
        out.append(doc)
    return out


def same(kiln_path, jsonnet_path, kcl_path):
    import yaml

    with open(kiln_path) as f:
        kiln = kiln_objects(f.read())
    with open(jsonnet_path) as f:
        jsonnet = json.load(f)
    with open(kcl_path) as f:
        kcl_items = yaml.safe_load(f)["items"]
    # Numbers the peers write as strings (or not) are compared as JSON after a round trip.
    norm = lambda objects: [json.loads(json.dumps(o, sort_keys=True)) for o in objects]
    kiln, jsonnet, kcl_items = norm(kiln), norm(jsonnet), norm(kcl_items)
    for name, peer in (("jsonnet", jsonnet), ("kcl", kcl_items)):
        if len(peer) != len(kiln):
            sys.exit(f"{name}: {len(peer)} objects, kiln {len(kiln)}")
        for a, b in zip(kiln, peer):
            if a != b:
                sys.exit(f"{name} differs from kiln on {a['metadata']['name']}:\n kiln {json.dumps(a)}\n {name} {json.dumps(b)}")
    print(f"outputs equivalent: {len(kiln)} PyTorchJobs from kiln, jsonnet and kcl")


if __name__ == "__main__":
    if sys.argv[1] == "kcl":
        kcl(sys.argv[2])
    else:
        same(*sys.argv[2:5])
