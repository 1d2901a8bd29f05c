"""The Wasserstein distributionally robust game (Gao & Tembine 2018), in the WRM form of papers.md §2(b).

Three kinds of players:

    defenders   move each real sample inside a Wasserstein neighbourhood of the data, to make it hard:
                  delta <- delta + alpha grad_delta [ f(z + delta) - gamma c(delta) ]   (T_def steps)
                where z is the sample (mode "input"), its encoder features (mode "feature"), or the
                sample with the cost measured between features (mode "feature-cost")
    critic      estimates W1 between the hard set and the model (WGAN-GP's critic, with penalties):
                  L_C = E f(G(z)) - E f(x_hard) + lambda_x GP(f; x, G(z)) [+ lambda_h GP(head; h_hard, h_fake)]
    attackers   the generator, fitting the hard set:  L_G = -E f(G(z))

With T_def = 0 (or gamma -> infinity) the hard set is the data and the game is WGAN-GP. The Lagrange
penalty gamma sets the size of the neighbourhood: for a 1-Lipschitz critic the maximiser satisfies
grad f = 2 gamma delta, so |delta| ~ 1/(2 gamma).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from gangames.errors import ConfigError, at_least, pick
from gangames.games.entry import Panel
from gangames.games.penalties import InterpolatePenalty
from gangames.games.two_player import TwoPlayer, TwoPlayerGame, graph_input
from gangames.seeds import Streams

Tensor = torch.Tensor

MODES = ("input", "feature", "feature-cost")
COSTS = ("sq", "sq_per_dim")


@dataclass
class RobustSettings:
    """The [robust] section: the defenders' rules (papers.md §2(g) gives the open questions)."""

    gamma: float = 5.0  # Lagrange penalty gamma of the transport cost (radius ~ 1/(2 gamma)) (G3)
    steps: int = 5  # T_def defender ascent steps (G6)
    step_size: float | None = None  # alpha; default 1 / (4 gamma) (G6)
    radius: float = 0.0  # optional hard radius rho: each move projected into the ball (0: none) (G3)
    mode: str = "input"  # input | feature | feature-cost: where the defenders move and pay (G2)
    cost: str = "sq"  # sq: |delta|^2 | sq_per_dim: |delta|^2 / dim (pixel transport on images)
    warmup: int = 1000  # first steps played as plain WGAN-GP
    hard_fraction: float = 1.0  # keep the top fraction of the hard set by critic value (G8)
    feature_penalty_weight: float = 10.0  # lambda_h of the head's penalty in feature space (G5)


def transport_cost(delta: Tensor, per_dim: bool) -> Tensor:
    """|delta|^2 per sample (P, B), optionally divided by the sample's dimension."""
    cost = delta.flatten(start_dim=2).pow(2).sum(-1)
    return cost / delta[0, 0].numel() if per_dim else cost


def ascend(objective, start: Tensor, steps: int, step_size: float | Tensor,
           radius: float | Tensor | None = None) -> tuple[Tensor, list[Tensor]]:
    """Gradient ascent on ``objective(delta)`` (per sample, (P, B)) from delta = 0, each sample's
    move projected onto the ball of ``radius`` when one is given.

    Returns the final delta (detached) and the mean objective before each step and after the last
    (T_def + 1 values), so that its increase can be checked and logged.
    """
    delta = torch.zeros_like(start)
    values = []
    for _ in range(steps):
        delta = delta.detach().requires_grad_(True)
        value = objective(delta)
        (grad,) = torch.autograd.grad(value.sum(), delta)
        values.append(value.detach().mean(-1))
        delta = delta.detach() + step_size * grad
        if radius is not None:
            norm = delta.flatten(start_dim=2).norm(dim=-1).clamp_min(1e-12)
            delta = delta * (radius / norm).clamp(max=1.0).reshape(*norm.shape, *([1] * (delta.dim() - 2)))
    with torch.no_grad():
        values.append(objective(delta).mean(-1))
    return delta.detach(), values


class RobustGame(TwoPlayerGame):
    """WGAN-GP played against the defenders' hard set instead of the data itself."""

    per_critic_step = (*TwoPlayerGame.per_critic_step, "feature_noise")  # and "defend", one flag per round

    def __init__(self, base: TwoPlayerGame, rules: RobustSettings):
        super().__init__(base.players, base.loss, base.penalty, base.penalty_weight, base.disc_steps, base.clip,
                         base.augment, base.compile_unit)
        self.rules = rules
        # The rules' real numbers as graph inputs (two_player.graph_input): a sweep over gamma compiles once.
        like = next(self.players.discriminator.parameters())
        self.gamma, self.step_size = graph_input(rules.gamma, like), graph_input(rules.step_size, like)
        self.radius = graph_input(rules.radius, like) if rules.radius > 0 else None
        self.feature_penalty_weight = graph_input(rules.feature_penalty_weight, like)
        self.feature_penalty = InterpolatePenalty(base.penalty.target, base.penalty.guard) if base.penalty else None

    def draw(self, data, batch_size: int, generator: torch.Generator, step: int = 0) -> dict:
        inputs = super().draw(data, batch_size, generator, step)
        inputs["defend"] = self.defends(step)
        if self.rules.mode == "feature" and self.feature_penalty is not None and self.rules.feature_penalty_weight > 0:
            lead = tuple(inputs["real"].shape[:3])
            inputs["feature_noise"] = self.feature_penalty.draw(lead, (1,), Streams.of(generator).noise)
        return inputs

    def critic_inputs(self, inputs: dict, k: int) -> dict:
        """Critic step k's inputs, and whether the defenders play this round."""
        return {**super().critic_inputs(inputs, k), "defend": inputs["defend"]}

    def defends(self, step: int) -> bool:
        """Whether the defenders play in step ``step`` (after the warm-up, if they have ascent steps)."""
        return self.rules.steps > 0 and step > self.rules.warmup

    def ends_call(self, step: int) -> bool:
        """The step before the defenders start: the next step is another graph."""
        return self.defends(step) != self.defends(step + 1)

    # -- the defenders ---------------------------------------------------------------------------
    def defend(self, real: Tensor, y: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """The defenders' moves delta (of the samples, or in feature mode of their features),
        detached. In a conditional game they move x (or its features), never the label y."""
        D, r = self.players.discriminator, self.rules
        labels = () if y is None else (y,)
        if r.mode == "feature":
            start = D.features(real).detach()

            def objective(delta):
                return D.score_features(start + delta, *labels) - self.gamma * transport_cost(delta, r.cost == "sq_per_dim")
        elif r.mode == "feature-cost":
            start = real.detach()
            anchor = D.features(start).detach()

            def objective(delta):
                moved = D.features(start + delta)
                cost = (moved - anchor).flatten(start_dim=2).pow(2).sum(-1)
                return D.score_features(moved, *labels) - self.gamma * cost
        else:
            start = real.detach()

            def objective(delta):
                return self.players.D(start + delta, y) - self.gamma * transport_cost(delta, r.cost == "sq_per_dim")

        delta, values = ascend(objective, start, r.steps, self.step_size, self.radius)
        stats = {"transport": delta.flatten(start_dim=2).norm(dim=-1).mean(-1), "ascent_gain": values[-1] - values[0]}
        return delta, stats

    # -- the critic --------------------------------------------------------------------------------
    def discriminator_objective(self, inputs: dict, k: int) -> tuple[Tensor, dict]:
        if not inputs["defend"]:
            loss, logs = super().discriminator_objective(inputs, k)
            zero = torch.zeros_like(loss)
            return loss, {**logs, "transport": zero, "ascent_gain": zero}
        players, D = self.players, self.players.discriminator
        y = inputs["y_real"][k] if "y_real" in inputs else None  # a conditional game's fakes carry these too
        labels = () if y is None else (y,)
        raw_real = inputs["real"][k]
        with torch.no_grad():
            raw_fake = players.G(inputs["z_disc"][k], y)
        # DiffAugment, when on: the defenders and the critic's loss see augmented images; the
        # penalty reads them as they are (as in every game).
        both = self.augmented(torch.cat([raw_real, raw_fake], dim=1), self.augment_noise(inputs, k))
        real, fake = both.split(raw_real.shape[1], dim=1)
        delta, logs = self.defend(real, y)
        if self.rules.mode == "feature":
            # The move is fixed, the features stay live: the real term trains the encoder as in
            # WGAN-GP, so that delta = 0 is exactly WGAN-GP (papers.md's sketch detaches them).
            hard = D.features(real) + delta
            real_out = D.score_features(hard, *labels)
            fake_features = D.features(fake)
            fake_out = D.score_features(fake_features, *labels)
        else:
            real_out = players.D(real + delta, y)
            fake_out = players.D(fake, y)
        if self.rules.hard_fraction < 1:
            keep = max(1, math.ceil(self.rules.hard_fraction * real_out.shape[-1]))
            real_out = real_out.topk(keep, dim=-1).values
        loss = self.loss.discriminator(real_out, fake_out)
        logs.update({"d_real": real_out.detach().mean(-1), "d_fake": fake_out.detach().mean(-1)})
        if self.penalty is not None:
            noise = {name: value[k] for name, value in inputs["noise"].items()}
            penalty = self.penalty(players.critic(y), raw_real, raw_fake, noise)
            loss = loss + self.penalty_weight * penalty
            logs["penalty"] = penalty.detach()
            if self.rules.mode == "feature" and self.rules.feature_penalty_weight > 0:
                noise = {name: value[k] for name, value in inputs["feature_noise"].items()}
                head = (lambda h: D.score_features(h, *labels))
                feature_penalty = self.feature_penalty(head, hard.detach(), fake_features.detach(), noise)
                loss = loss + self.feature_penalty_weight * feature_penalty
        return loss, logs


# -- the registry entry ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Robust(TwoPlayer):
    """WGAN-GP's defaults (its [game] fields) and the [robust] section."""

    section = "robust"
    settings = RobustSettings
    panels = (Panel("Robust game: transport", "curves", ("transport", "ascent_gain"),
                    "Mean distance the defenders moved each real sample (‖x̃ − x‖, ≈ 1/(2γ) for a 1-Lipschitz "
                    "critic), and the ascent's gain of the defenders' objective."),)

    def resolve(self, cfg) -> None:
        super().resolve(cfg)
        robust = cfg.robust
        pick("robust.mode", robust.mode, MODES)
        pick("robust.cost", robust.cost, COSTS)
        if robust.gamma <= 0:
            raise ConfigError(f"robust.gamma must be > 0, got {robust.gamma}")
        robust.step_size = 1 / (4 * robust.gamma) if robust.step_size is None else robust.step_size
        at_least(robust.steps, "robust.steps", 0)
        at_least(robust.warmup, "robust.warmup", 0)
        if not 0 < robust.hard_fraction <= 1:
            raise ConfigError(f"robust.hard_fraction must be in (0, 1], got {robust.hard_fraction}")
        if robust.mode == "feature" and cfg.discriminator.head == []:
            raise ConfigError("robust.mode=feature needs a non-linear critic head: with discriminator.head = [] every "
                              "sample's features move by the same vector; set discriminator.head (e.g. [128])")

    def build(self, cfg, players, data) -> RobustGame:
        if cfg.robust.mode != "input" and not getattr(players.discriminator, "critic_protocol", False):
            raise ConfigError(f"robust.mode={cfg.robust.mode} moves the critic's features: the discriminator needs "
                              "methods features(x) and score_features(h) (docs/library.md), or use robust.mode=input")
        return RobustGame(super().build(cfg, players, data), cfg.robust)

    def cost(self, cfg) -> float:
        passes = cfg.game.disc_steps * (1 + cfg.robust.steps) * (2 if cfg.game.penalty != "none" else 1)
        return passes + 1

    def label(self, cfg) -> str:
        return f"{cfg.game.name}(gamma={cfg.robust.gamma:g})"
