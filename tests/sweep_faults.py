"""Data presets whose process kills itself (kill -9) mid-run, for the sweeps' fault tests.

``killer``: the 8-mode ring, but the process dies at the 30th minibatch it draws (the
GANGAMES_KILL_AT-th, if set: a small number dies before any checkpoint, on every attempt).
``killer-once``: the same, but only the first process dies: it creates the file that
GANGAMES_KILL_ONCE names first, and the trial's next attempt resumes from the run's checkpoint.
"""

import os
import signal
from pathlib import Path

from gangames.data import synthetic
from gangames.data.presets import Preset, register_data


class Killer(synthetic.GaussianMixture):
    draws = 0
    once = False

    def sample(self, n, generator):
        self.draws += 1  # per run: a Dask worker runs many in one process
        if self.draws == int(os.environ.get("GANGAMES_KILL_AT", "30")):
            marker = Path(os.environ["GANGAMES_KILL_ONCE"]) if self.once else None
            if marker is None or not marker.exists():
                if marker is not None:
                    marker.write_text(str(os.getpid()))
                os.kill(os.getpid(), signal.SIGKILL)
        return super().sample(n, generator)


class KillerOnce(Killer):
    once = True


for name, kind in (("killer", Killer), ("killer-once", KillerOnce)):
    register_data(name, Preset("the 8-mode ring, in a process that kills itself mid-run (tests/sweep_faults.py)",
                               lambda c, kind=kind, name=name: kind(name, synthetic.ring(8, 2.0), 0.02),
                               {"sigma": 0.02, "radius": 2.0}))
