"""Generates the benchmark inputs for `bench/run.sh`.

  gen.py repo DIR N      a repository of N workloads of mixed kinds, in files of 100 workloads
  gen.py chain FILE N    one N-step chained pipeline (the kiln twin of bench/kfp_pipeline100.py)
  gen.py jobs DIR N POOL N GPU PyTorchJobs (Master 1 replica, Worker 0-3, env, resources, one
                         GPU per container) as DIR/jobs.kiln, DIR/jobs.jsonnet and DIR/jobs.k, the
                         same objects and checks in kiln, Jsonnet and KCL; POOL is `pool` (a
                         NodePool is declared and every GPU model is checked against it) or `none`
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


# One job's varying parts, shared by the three generators so they describe the same objects.
def job_params(i):
    return {
        "name": f"job-{i}",
        "ns": f"team-{i % 20}",
        "image": f"ghcr.io/acme/train:{i % 9}.1",
        "workers": 1 + i % 4,
        "shard": str(i),
    }


POOL_MODEL = "a100-80gb"


def jobs(directory, n, pool):
    os.makedirs(directory, exist_ok=True)
    declared = pool == "pool"
    with open(os.path.join(directory, "jobs.kiln"), "w") as f:
        f.write('import "kubeflow" as kf\n\n')
        if declared:
            f.write(f'kf.NodePool "a100" {{\n  accelerator = kf.nvidia("{POOL_MODEL}")\n  per_node = 8\n  cpu = 96\n  memory = 1024Gi\n}}\n\n')
        for i in range(n):
            p = job_params(i)
            f.write(f'''kf.TrainingJob "{p["name"]}" {{
  namespace = "{p["ns"]}"
  framework = "pytorch"
  image = "{p["image"]}"
  command = ["torchrun", "train.py"]
  env = {{ values = {{ EPOCHS = "10", SHARD = "{p["shard"]}" }} }}
  workers = {p["workers"]}
  per_worker = {{ cpu = 8, memory = 32Gi, gpu = kf.gpu(kf.nvidia("{POOL_MODEL}"), 1) }}
}}

''')
    pools = f'[{{ name: "a100", model: "{POOL_MODEL}", per_node: 8, cpu: 96, memory_gi: 1024 }}]' if declared else "[]"
    with open(os.path.join(directory, "jobs.jsonnet"), "w") as f:
        f.write(JSONNET.replace("@POOLS@", pools).replace("@N@", str(n)).replace("@MODEL@", POOL_MODEL))
    kcl_pools = f'[{{name = "a100", model = "{POOL_MODEL}", per_node = 8, cpu = 96, memory_gi = 1024}}]' if declared else "[]"
    with open(os.path.join(directory, "jobs.k"), "w") as f:
        f.write(KCL.replace("@POOLS@", kcl_pools).replace("@N@", str(n)).replace("@MODEL@", POOL_MODEL))


# The peers check what kiln checks for these jobs: DNS-1123 names and namespaces, workers >= 1,
# GPU count 1..64, CPU and memory of a worker within a node of the pool, and (with a declared
# pool) that the GPU model is one a pool provides.
JSONNET = r'''local pools = @POOLS@;
local dns(s) = std.length(s) <= 63 && std.length(s) > 0 &&
  std.all([std.member('abcdefghijklmnopqrstuvwxyz0123456789-', c) for c in std.stringChars(s)]) &&
  s[0] != '-' && s[std.length(s) - 1] != '-';
local container(p, gpu) = {
  command: ['torchrun', 'train.py'],
  env: [{ name: 'EPOCHS', value: '10' }, { name: 'SHARD', value: p.shard }],
  image: p.image,
  name: 'pytorch',
  resources: {
    limits: { 'nvidia.com/gpu': gpu.count },
    requests: { cpu: '8', memory: '32Gi', 'nvidia.com/gpu': gpu.count },
  },
};
local replica(p, n, gpu) = {
  replicas: n,
  template: { spec: {
    containers: [container(p, gpu)],
    nodeSelector: { 'nvidia.com/gpu.product': gpu.model },
    tolerations: [{ effect: 'NoSchedule', key: 'nvidia.com/gpu', operator: 'Exists' }],
  } },
};
local job(i) =
  local p = { name: 'job-' + i, ns: 'team-' + (i % 20), image: 'ghcr.io/acme/train:' + (i % 9) + '.1', workers: 1 + i % 4, shard: '' + i };
  local gpu = { model: '@MODEL@', count: 1 };
  assert dns(p.name) : 'invalid name ' + p.name;
  assert dns(p.ns) : 'invalid namespace ' + p.ns;
  assert p.workers >= 1 : 'workers must be at least 1';
  assert gpu.count >= 1 && gpu.count <= 64 : 'gpu count out of range';
  assert std.length(pools) == 0 || std.length([q for q in pools if q.model == gpu.model]) > 0 : 'no declared NodePool provides ' + gpu.model;
  assert std.all([gpu.count <= q.per_node && 8 <= q.cpu && 32 <= q.memory_gi for q in pools if q.model == gpu.model]) : 'does not fit a node';
  {
    apiVersion: 'kubeflow.org/v1',
    kind: 'PyTorchJob',
    metadata: { name: p.name, namespace: p.ns },
    spec: { pytorchReplicaSpecs: { Master: replica(p, 1, gpu) } + (if p.workers > 1 then { Worker: replica(p, p.workers - 1, gpu) } else {}) },
  };
[job(i) for i in std.range(0, @N@ - 1)]
'''

KCL = r'''import regex

_pools = @POOLS@

schema Gpu:
    model: str
    count: int = 1
    check:
        1 <= count <= 64, "gpu count out of range"
        len(_pools) == 0 or any q in _pools { q.model == model }, "no declared NodePool provides ${model}"
        all q in _pools { q.model != model or (count <= q.per_node and 8 <= q.cpu and 32 <= q.memory_gi) }, "does not fit a node"

schema Params:
    name: str
    ns: str
    image: str
    workers: int
    shard: str
    check:
        regex.match(name, r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"), "invalid name ${name}"
        regex.match(ns, r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"), "invalid namespace ${ns}"
        workers >= 1, "workers must be at least 1"

container = lambda p: Params, gpu: Gpu {
    {
        command = ["torchrun", "train.py"]
        env = [{name = "EPOCHS", value = "10"}, {name = "SHARD", value = p.shard}]
        image = p.image
        name = "pytorch"
        resources = {
            limits = {"nvidia.com/gpu" = gpu.count}
            requests = {cpu = "8", memory = "32Gi", "nvidia.com/gpu" = gpu.count}
        }
    }
}

replica = lambda p: Params, n: int, gpu: Gpu {
    {
        replicas = n
        template.spec = {
            containers = [container(p, gpu)]
            nodeSelector = {"nvidia.com/gpu.product" = gpu.model}
            tolerations = [{effect = "NoSchedule", key = "nvidia.com/gpu", operator = "Exists"}]
        }
    }
}

job = lambda i: int {
    p = Params {name = "job-${i}", ns = "team-${i % 20}", image = "ghcr.io/acme/train:${i % 9}.1", workers = 1 + i % 4, shard = str(i)}
    gpu = Gpu {model = "@MODEL@"}
    specs = {Master = replica(p, 1, gpu)}
    if p.workers > 1:
        specs = {Master = replica(p, 1, gpu), Worker = replica(p, p.workers - 1, gpu)}
    {
        apiVersion = "kubeflow.org/v1"
        kind = "PyTorchJob"
        metadata = {name = p.name, namespace = p.ns}
        spec.pytorchReplicaSpecs = specs
    }
}

items = [job(i) for i in range(@N@)]
'''


if __name__ == "__main__":
    what, target, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if what == "jobs":
        jobs(target, count, sys.argv[4])
    else:
        {"repo": repo, "chain": chain}[what](target, count)
