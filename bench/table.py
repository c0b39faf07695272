"""Measures kiln against its peers in one run and prints a table of medians and ratios.

  table.py WORK KILN JRSONNET KCL_PYTHON KFP_PYTHON SIZES STEPS

Every figure is a whole process (start-up, parse, checks, output written to a file), with the
runs of kiln and its peers alternating so that a busy neighbour slows them alike; the median
wall time and the peak resident set size (from wait4) are reported. Before timing, the outputs
at the smallest size are checked equivalent (bench/peers.py same).
"""
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_once(cmd, out_path):
    with open(out_path, "w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        err = proc.stderr.read().decode()
    if status != 0:
        sys.exit(f"{' '.join(cmd)} failed: {err[:2000]}")
    return wall, usage.ru_maxrss / 1024  # MiB (ru_maxrss is KiB on Linux)


def measure(commands, runs):
    """commands: {label: (cmd, out_path)}; runs alternate. -> {label: (median s, max MiB)}."""
    times = {k: [] for k in commands}
    rss = {k: 0.0 for k in commands}
    for _ in range(runs):
        for label, (cmd, out) in commands.items():
            wall, mib = run_once(cmd, out)
            times[label].append(wall)
            rss[label] = max(rss[label], mib)
    return {k: (statistics.median(times[k]), rss[k]) for k in commands}


def gen(*args):
    subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), *map(str, args)], check=True)


def main():
    work, kiln, jrsonnet, kcl_py, kfp_py, sizes, steps = sys.argv[1:8]
    sizes = [int(x) for x in sizes.split(",")]
    steps = [int(x) for x in steps.split(",")]
    peers = os.path.join(HERE, "peers.py")
    print("| workload | kiln | peers (median, peak RSS) | peer/kiln | kiln output |")
    print("|---|---:|---|---|---:|", flush=True)

    def row(what, kiln_result, peer, size):
        kt, km = kiln_result
        ps = ", ".join(f"{k} {t:.3f} s, {m:.0f} MiB" for k, (t, m) in peer.items())
        ratios = ", ".join(f"{k} {t / kt:.1f}x" for k, (t, _) in peer.items())
        print(f"| {what} | {kt:.3f} s, {km:.0f} MiB | {ps} | {ratios} | {size / 1e6:.1f} MB |", flush=True)
    for i, n in enumerate(sizes):
        for pool in ("pool", "none"):
            d = os.path.join(work, f"jobs-{n}-{pool}")
            gen("jobs", d, n, pool)
            out = {k: os.path.join(d, f"out.{k}") for k in ("kiln", "jsonnet", "kcl")}
            commands = {
                "kiln": ([kiln, "build", os.path.join(d, "jobs.kiln")], out["kiln"]),
                "jsonnet": ([jrsonnet, os.path.join(d, "jobs.jsonnet")], out["jsonnet"]),
                "kcl": ([kcl_py, peers, "kcl", os.path.join(d, "jobs.k")], out["kcl"]),
            }
            if i == 0:
                for cmd, path in commands.values():
                    run_once(cmd, path)
                subprocess.run([kfp_py, peers, "same", out["kiln"], out["jsonnet"], out["kcl"]], check=True)
            # Large sizes: the peers take seconds to minutes per run, so fewer runs.
            runs = 5 if n <= 1_000 else 3 if n <= 10_000 else 1
            kiln_runs = measure({"kiln": commands["kiln"]}, 5)
            peer_runs = measure({k: commands[k] for k in ("jsonnet", "kcl")}, runs)
            row(f"{n:,} GPU PyTorchJobs, {'a NodePool' if pool == 'pool' else 'no NodePool'}", kiln_runs["kiln"], peer_runs, os.path.getsize(out["kiln"]))
    for s in steps:
        d = os.path.join(work, f"pipeline-{s}")
        os.makedirs(d, exist_ok=True)
        gen("chain", os.path.join(d, "chain.kiln"), s)
        commands = {
            "kiln": ([kiln, "build", os.path.join(d, "chain.kiln")], os.path.join(d, "out.kiln")),
            "kfp": ([kfp_py, os.path.join(HERE, "kfp_pipeline100.py"), str(s), "--once", os.path.join(d, "out.kfp.yaml")], os.path.join(d, "out.kfp.log")),
        }
        res = measure(commands, 5 if s <= 100 else 3)
        row(f"{s:,}-step chained pipeline", res["kiln"], {"kfp": res["kfp"]}, os.path.getsize(commands["kiln"][1]))


if __name__ == "__main__":
    main()
