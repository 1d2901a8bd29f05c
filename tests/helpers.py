"""Helpers shared by the tests."""

from gangames.optim import Optimizer, OptimizerSettings

SGD = OptimizerSettings("sgd", lr=0.05, beta1=0.0)


def in_float64_with_sgd(game):
    """Run the comparison in float64 with plain SGD. Adam and RMSprop divide by the gradient's own
    size, so a gradient that is exactly 0 in one implementation and 1e-17 in the other (the critic's
    last bias under the Wasserstein loss) would move by +-lr; their update rules are checked against
    torch.optim in test_optim.py."""
    for role in ("generator", "discriminator"):
        module = getattr(game.players, role).double()
        setattr(game.players, f"{role}_opt", Optimizer(list(module.parameters()), SGD))
    return game


def double(inputs):
    """Every tensor of a step's inputs in float64 (flags and other values unchanged)."""
    if isinstance(inputs, dict):
        return {k: double(v) for k, v in inputs.items()}
    return inputs.double() if hasattr(inputs, "double") else inputs


def metric_rows(path):
    """metrics.jsonl rows without their wall-clock "seconds" (which no two runs share)."""
    import json

    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc) -> None:
    import subprocess

    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:  # a nanny busy restarting its worker
        proc.kill()
        proc.wait(15)


class DaskCluster:
    """A real Dask scheduler and two nanny-managed workers on loopback (``with DaskCluster(...) as
    address``), started with ``env`` and stopped afterwards."""

    def __init__(self, folder, env=None):
        self.folder, self.env = folder, env

    def __enter__(self) -> str:
        import subprocess
        import sys
        import time

        port = free_port()
        address = f"tcp://127.0.0.1:{port}"
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": self.env}
        self.procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                        "--port", str(port), "--dashboard-address", ":0", "--no-show"], **quiet)]
        self.procs.insert(0, subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads",
                                               "1", "--nworkers", "2", "--no-dashboard", "--local-directory",
                                               str(self.folder)], **quiet))
        from distributed import Client

        deadline = time.time() + 60
        while True:
            try:
                with Client(address, timeout="5s") as client:
                    if len(client.scheduler_info()["workers"]) >= 2:
                        return address
            except OSError:
                pass
            if time.time() > deadline:
                self.__exit__()
                raise AssertionError("the Dask cluster did not start")
            time.sleep(0.5)

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            stop(proc)
