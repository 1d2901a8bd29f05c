"""The benchmark times what its columns say: its "compiled" slices run the compiled step."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import step_rate  # noqa: E402

from gangames.training import trainer  # noqa: E402
from gangames.training.compiled import GuardedCompile  # noqa: E402


def test_the_compiled_column_times_compiled_calls(tmp_path, monkeypatch):
    """``resolved`` leaves run.compile unset, which resolves to a default run's 1 000 eager steps
    first: a compiled slice must still run every one of its steps in the (stand-in) compiled step."""
    calls = []

    def stand_in(step, cpp_wrapper=True):
        return GuardedCompile(step, lambda rounds: calls.append(len(rounds)) or step(rounds))

    monkeypatch.setattr(trainer, "compile_function", stand_in)
    cfg = step_rate.resolved("ns", 16, extra=["run.steps_per_call=2"])  # calls of two rounds: slices end on calls
    timed = step_rate.TimedTrainer(cfg, True, tmp_path)
    per_call = cfg.run.steps_per_call
    assert per_call > 1 and calls == [per_call, per_call]  # the first slice: two compiled calls
    timed.rate(3 * per_call)
    assert calls == [per_call] * 5
    eager = step_rate.TimedTrainer(cfg, False, tmp_path)
    eager.rate(per_call)
    assert len(calls) == 5  # the eager column never calls it
