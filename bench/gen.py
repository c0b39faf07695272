"""Generates the benchmark inputs for `bench/run.sh`.

  gen.py repo DIR N      a repository of N workloads of mixed kinds, in files of 100 workloads
  gen.py chain FILE N    one N-step chained pipeline (the kiln twin of bench/kfp_pipeline100.py)
"""
import os
import sys


def workload(i):
    """One team workload: notebook (+ workspace PVC), training job, inference service and a
    ConfigMap; every tenth also has a scheduled pipeline. About 5 manifests per workload."""
    parts = [part(i, k) for k in (0, 1, 2, 4)]
    if i % 10 == 0:
        parts.append(part(i, 3))
    return "\n".join(parts)


def part(i, kind):
    ns = f"team-{i % 20}"
    if kind == 0:
        return f'''kf.Notebook "nb-{i}" {{
  namespace = "{ns}"
  image = "ghcr.io/acme/jupyter:{i % 7}.0"
  cpu = 2
  memory = 8Gi
  workspace = 20Gi
}}
'''
    if kind == 1:
        return f'''kf.TrainingJob "train-{i}" {{
  namespace = "{ns}"
  framework = "pytorch"
  image = "ghcr.io/acme/train:{i % 9}.1"
  command = ["torchrun", "train.py"]
  workers = 2
  per_worker = {{ cpu = 8, memory = 32Gi }}
}}
'''
    if kind == 2:
        return f'''kf.InferenceService "svc-{i}" {{
  namespace = "{ns}"
  model = kf.sklearn("s3://models/m{i}/v1")
  min_replicas = 0
  max_replicas = 3
}}
'''
    if kind == 3:
        return f'''kf.Pipeline "pipe-{i}" {{
  namespace = "{ns}"
  schedule = "0 {i % 24} * * *"
  steps = {{
    prep = {{
      image = "ghcr.io/acme/prep:1"
      command = ["python", "prep.py"]
      outputs = {{ data = {{ kind = "Dataset" }} }}
    }}
    train = {{
      image = "ghcr.io/acme/train:1"
      command = ["python", "train.py"]
      inputs = {{ data = {{ kind = "Dataset", from = steps.prep.outputs.data }} }}
    }}
  }}
}}
'''
    return f'''kf.Object "flags-{i}" = kf.config_map({{ INDEX = "{i}", TIER = "t{i % 3}" }}) with {{ namespace = "{ns}" }}
'''


def repo(directory, n):
    os.makedirs(directory, exist_ok=True)
    for start in range(0, n, 100):
        with open(os.path.join(directory, f"workloads-{start // 100:03}.kiln"), "w") as f:
            f.write('import "kubeflow" as kf\n\n')
            for i in range(start, min(start + 100, n)):
                f.write(workload(i))
                f.write("\n")


def chain(path, n):
    with open(path, "w") as f:
        f.write('import "kubeflow" as kf\n\nkf.Pipeline "chain" {\n  namespace = "bench"\n  steps = {\n')
        for i in range(n):
            f.write(f"    s{i} = {{\n      image = \"ghcr.io/acme/step:1\"\n      command = [\"python\", \"step.py\"]\n")
            f.write("      outputs = { out_data = { kind = \"Dataset\" } }\n")
            if i > 0:
                f.write(f"      inputs = {{ in_data = {{ kind = \"Dataset\", from = steps.s{i - 1}.outputs.out_data }} }}\n")
            f.write("    }\n")
        f.write("  }\n}\n")


if __name__ == "__main__":
    what, target, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    {"repo": repo, "chain": chain}[what](target, count)
