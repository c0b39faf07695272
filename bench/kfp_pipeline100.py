"""Peer measurement: compile a 100-step pipeline with the real kfp SDK (PyPI `kfp`).

Each step is a container component taking the previous step's Dataset and producing a new one,
the same shape bench/build.sh generates in kiln. Prints the median wall time in milliseconds of
the compile step alone (import time excluded) over several runs.
"""
import statistics
import sys
import tempfile
import time

from kfp import compiler, dsl

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 100
# `--once FILE`: compile once into FILE and exit (bench/table.py times the whole process).
ONCE = sys.argv[sys.argv.index("--once") + 1] if "--once" in sys.argv else None


@dsl.container_component
def first(out_data: dsl.Output[dsl.Dataset]):
    return dsl.ContainerSpec(image="ghcr.io/acme/step:1", command=["python", "step.py"], args=["--out", out_data.path])


@dsl.container_component
def step(in_data: dsl.Input[dsl.Dataset], out_data: dsl.Output[dsl.Dataset]):
    return dsl.ContainerSpec(
        image="ghcr.io/acme/step:1",
        command=["python", "step.py"],
        args=["--in", in_data.path, "--out", out_data.path],
    )


@dsl.pipeline(name="chain")
def chain():
    task = first()
    for _ in range(STEPS - 1):
        task = step(in_data=task.outputs["out_data"])


def main():
    if ONCE:
        compiler.Compiler().compile(chain, ONCE)
        return
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(5):
            start = time.perf_counter()
            compiler.Compiler().compile(chain, f"{tmp}/chain.yaml")
            times.append((time.perf_counter() - start) * 1000)
    print(f"{statistics.median(times):.1f}")


if __name__ == "__main__":
    main()
