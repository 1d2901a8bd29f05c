"""Your own loss, registered by name, played by single pairs and inside the auction; and a new
member of the two-player family registered as a game.

    python examples/own_loss_and_game.py            # about 2 minutes on 2 cores
    python examples/own_loss_and_game.py --quick    # a few seconds (what CI runs)

Registrations are made at the top level of the script, outside ``main()``: worker processes
import the script again (as ``__mp_main__``) and so know them too. In a module of your own, list
the module in ``run.plugins`` (gangames does it for you) and every command finds it.
"""

import argparse

import torch.nn.functional as F

import gangames
from gangames import TwoPlayer


def relativistic_average_d(real, fake):
    """RaGAN's discriminator loss (Jolicoeur-Martineau 2018): real scores against the mean fake score."""
    return (F.softplus(-(real - fake.mean(-1, keepdim=True))).mean(-1)
            + F.softplus(fake - real.mean(-1, keepdim=True)).mean(-1))


def relativistic_average_g(fake):
    """Its generator loss, with the real scores' mean taken as 0 (the generator cannot move it)."""
    return F.softplus(-fake).mean(-1)


gangames.register_loss("ragan-lite", relativistic_average_d, relativistic_average_g, score="critic",
                       description="relativistic average GAN, generator side simplified (an example)")
gangames.register_game("ragan-lite-gp", TwoPlayer("the loss above with WGAN-GP's interpolate penalty (lambda 1)",
                                                  loss="ragan-lite", penalty="interpolate", penalty_weight=1.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="runs/own-loss")
    args = parser.parse_args()
    steps = 30 if args.quick else 2000
    small = {"generator": {"hidden": [64, 64]}, "discriminator": {"hidden": [64]}, "eval": {"samples": 2500}}
    # The auction's pairs play the registered game: game.loss and game.penalty come from it.
    auction = {**small, "auction": {"players": 3, "player_game": "ragan-lite-gp", "aux_steps": 20}}
    for name, config in (("ragan-lite-gp", small), ("auction", auction)):
        run = gangames.train(name, "ring8", steps=steps, out=f"{args.out}/{name}", config=config, overwrite=True,
                             progress=False)
        metrics = run.evaluate(metrics=["modes", "w2"])["metrics"]
        worst = f", worst player {metrics['modes/worst']}" if "modes/worst" in metrics else ""
        print(f"{name}: modes (≥ 1 of 2500) {metrics['modes']}{worst}, W2 {metrics['w2']:.3f}")


if __name__ == "__main__":
    main()
