import os

import pytest
import torch

# Tests compare exact numbers; fix the thread count so reductions are ordered the same way.
torch.set_num_threads(int(os.environ.get("GANGAMES_TEST_THREADS", "1")))


@pytest.fixture
def small_cfg():
    """A resolved config with small players, for fast tests."""
    from gangames import build
    from gangames.config import Config

    def make(name="ns", preset="ring8", **sections):
        cfg = Config()
        cfg.game.name = name
        cfg.data.preset = preset
        cfg.data.batch_size = 32
        cfg.generator.hidden = [16, 16]
        cfg.discriminator.hidden = [16, 16]
        cfg.run.progress = False
        cfg.game.defaults = "paper"  # each game's own settings: the tuned ones are tests/test_defaults.py's
        for section, values in sections.items():
            for key, value in values.items():
                setattr(getattr(cfg, section), key, value)
        return build.resolve(cfg)

    return make
