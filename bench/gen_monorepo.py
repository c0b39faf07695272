"""Generates the Git monorepo of `bench/gitops.sh`: APPS apps of WORKLOADS workloads each (the
mixed workloads of gen.py, about 5 manifests each, so 200 x 10 -> ~10,000 objects), every app
importing the shared module lib/common.kiln, and a kiln.toml listing the apps.

  gen_monorepo.py DIR APPS WORKLOADS        the repository's files
  gen_monorepo.py touch-app DIR INDEX       edit one app (its ConfigMaps' TIER)
  gen_monorepo.py touch-shared DIR          edit the module every app imports
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from gen import workload  # noqa: E402


def app_file(a, per_app, tier="t"):
    body = ['import "kubeflow" as kf', 'import "../../lib/common.kiln" as common', ""]
    for w in range(per_app):
        i = a * per_app + w
        body.append(workload(i).replace('TIER = "t', f'TIER = "{tier}'))
    body.append(
        f'kf.Object "platform-{a}" = kf.config_map({{ RELEASE = common.release }}) with {{ namespace = "team-{a % 20}" }}\n'
    )
    return "\n".join(body)


def generate(directory, apps, per_app):
    os.makedirs(os.path.join(directory, "lib"), exist_ok=True)
    with open(os.path.join(directory, "lib", "common.kiln"), "w") as f:
        f.write('let release = "2026.1"\n')
    with open(os.path.join(directory, "kiln.toml"), "w") as f:
        for a in range(apps):
            f.write(f'[[app]]\nname = "app-{a:03}"\npaths = ["apps/app-{a:03}"]\n\n')
    for a in range(apps):
        d = os.path.join(directory, "apps", f"app-{a:03}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "main.kiln"), "w") as f:
            f.write(app_file(a, per_app))
    with open(os.path.join(directory, ".per_app"), "w") as f:
        f.write(str(per_app))


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "touch-app":
        directory, a = sys.argv[2], int(sys.argv[3])
        per_app = int(open(os.path.join(directory, ".per_app")).read())
        with open(os.path.join(directory, "apps", f"app-{a:03}", "main.kiln"), "w") as f:
            f.write(app_file(a, per_app, tier="u"))
    elif what == "touch-shared":
        with open(os.path.join(sys.argv[2], "lib", "common.kiln"), "w") as f:
            f.write('let release = "2026.2"\n')
    else:
        generate(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
