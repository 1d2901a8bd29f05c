"""The two-player game: a generator against a discriminator, for P independent pairs at once.

One step, as in Fedus et al. §3(b) (and WGAN's Algorithm 1 when the loss is Wasserstein):

    repeat disc_steps times:
        L_D = loss.discriminator(D(x), D(G(z))) + lambda * penalty(D, x, G(z))
        D <- optimiser step on L_D;  if clip: w <- clamp(w, -c, c)
    L_G = loss.generator(D(G(z)))            (relativistic losses: loss.generator(D(G(z)), D(x')))
    G <- optimiser step on L_G

Every game of the divergence family is this loop with another loss, penalty, step count or
optimiser; the step is a pure function of the players, their optimisers and the inputs ``draw``
returns, so it can be compiled and replayed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gangames.data import augment
from gangames.errors import at_least, pick
from gangames.games.entry import GameEntry
from gangames.games.losses import LOSSES, Loss
from gangames.games.penalties import DRAGAN_FORMS, PENALTIES, build_penalty
from gangames.nets.ema import ParameterEMA
from gangames.optim import Optimizer, OptimizerSettings
from gangames.seeds import Streams

Tensor = torch.Tensor


def graph_input(value: float | Tensor, like: Tensor) -> Tensor:
    """A real-valued setting as a 0-d tensor on ``like``'s device. A compiled step takes it as an
    input, where a Python float would be a constant of its graph: a sweep over the setting then
    reuses one compiled step instead of compiling each trial again (as ``Optimizer.hyper``).
    In float64, as a Python float is: an operation rounds it to its own dtype, as it would the float.
    Wrapped as a (frozen) ``nn.Parameter``: torch 2.13's compiler takes a plain 0-d float64 tensor
    input for a Python float, gives up on it once the step is traced and traces the whole step
    again (docs/speed.md); it does not do so for a parameter."""
    return nn.Parameter(torch.tensor(float(value), dtype=torch.float64, device=like.device), requires_grad=False)


@dataclass
class Players:
    """P generator/discriminator pairs with stacked parameters, and their optimisers."""

    generator: nn.Module
    discriminator: nn.Module
    generator_opt: Optimizer
    discriminator_opt: Optimizer
    latent_dim: int
    ema: ParameterEMA | None = None  # the generator's moving average (generator.ema), when on
    classes: int | None = None  # class-conditional players: G(z, y), D(x, y) (game.conditional)

    @property
    def count(self) -> int:
        return next(self.generator.parameters()).shape[0]

    def latent(self, lead: tuple[int, ...], generator: torch.Generator) -> Tensor:
        """z ~ N(0, I) of shape (*lead, latent_dim)."""
        return torch.randn((*lead, self.latent_dim), generator=generator, device=generator.device)

    def labels(self, lead: tuple[int, ...], generator: torch.Generator) -> Tensor | None:
        """Uniformly drawn class labels of shape ``lead`` for generated samples (None if unconditional)."""
        if self.classes is None:
            return None
        return torch.randint(self.classes, lead, generator=generator, device=generator.device)

    # The players as every game calls them: y is the labels of a conditional game, else None.
    def G(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.generator(z) if y is None else self.generator(z, y)

    def D(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.discriminator(x) if y is None else self.discriminator(x, y)

    def critic(self, y: Tensor | None = None):
        """The discriminator as a function of samples alone (labels bound), for penalties and defenders."""
        return self.discriminator if y is None else (lambda x: self.discriminator(x, y))

    def modules(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    def optimizers(self) -> dict[str, Optimizer]:
        """Every stateful updater of the players (the generator's average too): checkpoints hold them all."""
        found = {"generator": self.generator_opt, "discriminator": self.discriminator_opt}
        return {**found, "generator_ema": self.ema} if self.ema is not None else found

    def discriminator_updated(self, frozen: Tensor | None = None) -> None:
        """After every discriminator update: spectral normalisation's power iteration, when on."""
        refresh = getattr(self.discriminator, "refresh_spectral_norm", None)
        if refresh is not None:
            refresh(frozen)

    def update_average(self) -> None:
        if self.ema is not None:
            self.ema.update()

    def generate(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Samples for evaluation and snapshots: from the averaged weights when the average is on."""
        if self.ema is None:
            return self.G(z, y)
        with self.ema.swapped():
            return self.G(z, y)


class TwoPlayerGame:
    # Inputs ``draw`` gives every critic step its own of (leading axis: the step k).
    per_critic_step = ("real", "z_disc", "noise", "y_real")

    def __init__(self, players: Players, loss: Loss, penalty=None, penalty_weight: float = 0.0,
                 disc_steps: int = 1, clip: float = 0.0, augment: tuple[str, ...] = (), compile_unit: str = "round"):
        like = next(players.discriminator.parameters())
        self.players = players
        self.loss = loss
        self.augment = augment  # DiffAugment's policy (data/augment.py): what D sees of every image
        self.penalty = penalty
        self.penalty_weight = graph_input(penalty_weight, like)  # lambda
        self.disc_steps = disc_steps
        self.clipping = float(clip) > 0
        self.clip = graph_input(clip, like)  # c
        self.compile_unit = compile_unit  # run.compile_unit: a round, or each player's update, per graph

    def modules(self) -> dict[str, nn.Module]:
        return self.players.modules()

    def optimizers(self) -> dict[str, Optimizer]:
        return self.players.optimizers()

    def compiled_steps(self, compile_fn):
        """``steps``, compiled (docs/speed.md). Unit ``round``: one graph plays whole rounds (several
        per call with run.steps_per_call). Unit ``update``: one graph per player update, the critic's
        called for each of its steps (one critic update compiled, not ``disc_steps``); the compiled
        functions are those ``compile_fn`` returned, where its caller keeps account of them."""
        if self.compile_unit == "round":
            return compile_fn(self.steps)
        critic, generator = compile_fn(self.critic_update), compile_fn(self.generator_update)

        def steps(rounds: list[dict]) -> list[dict[str, Tensor]]:
            logs = []
            for inputs in rounds:
                for k in range(self.disc_steps):
                    played = critic(self.critic_inputs(inputs, k))
                logs.append({**played, **generator(inputs)})
            return logs
        return steps

    def streams(self) -> dict[str, torch.Generator]:
        """Random streams the game owns besides the trainer's (saved in every checkpoint): none."""
        return {}

    def ends_call(self, step: int) -> bool:
        """Whether a call of ``steps`` must end after round ``step``: a game whose next round leaves
        the compiled graph or plays a different one says so here (this one never does)."""
        return False

    @torch.no_grad()
    def sample(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Generator samples for latents z of shape (P, n, latent_dim) (and labels y (P, n) of a
        conditional game): (P, n, *sample), from the generator's average when generator.ema is on."""
        return self.players.generate(z, y)

    # -- randomness ------------------------------------------------------------------------------
    def draw(self, data, batch_size: int, generator, step: int = 0) -> dict:
        """Everything random step number ``step`` consumes, for every discriminator step and player.
        ``generator``: the run's ``Streams`` (or one torch.Generator for all three)."""
        lead, conditional = (self.disc_steps, self.players.count, batch_size), self.players.classes is not None
        streams = Streams.of(generator)  # data, latents and noise from their own streams: paired games
        real, labels = self._real(data, lead, streams.data)
        inputs = {"real": real, "z_disc": self.players.latent(lead, streams.latent), "noise": {}}
        if conditional:  # the critic's fakes carry the real batch's labels (one label per penalty point)
            inputs["y_real"] = labels
        if self.penalty is not None:
            inputs["noise"] = self.penalty.draw(lead, tuple(real.shape[3:]), streams.noise)
        inputs["z_gen"] = self.players.latent(lead[1:], streams.latent)
        if self.loss.relativistic:  # the generator's loss pairs its samples with a real batch
            inputs["real_gen"], gen_labels = self._real(data, lead[1:], streams.data)
            if conditional:
                inputs["y_gen"] = gen_labels
        elif conditional:
            inputs["y_gen"] = self.players.labels(lead[1:], streams.latent)
        if self.augment:
            shape, noise = tuple(inputs["real"].shape[3:]), streams.noise
            inputs["augment"] = {"disc": augment.draw(self.augment, (*lead[:2], 2 * lead[2]), shape, noise),
                                 "gen": augment.draw(self.augment, lead[1:], shape, noise)}
            if self.loss.relativistic:
                inputs["augment"]["gen_real"] = augment.draw(self.augment, lead[1:], shape, noise)
        return inputs

    def _real(self, data, lead: tuple[int, ...], generator: torch.Generator) -> tuple[Tensor, Tensor | None]:
        """Real samples shaped (*lead, *sample), and their labels in a conditional game."""
        n = 1
        for size in lead:
            n *= size
        if self.players.classes is None:
            real, labels = data.sample(n, generator), None
        else:
            real, labels = data.sample_with_labels(n, generator)
            labels = labels.view(lead)
        return real.view(*lead, *real.shape[1:]), labels

    def augmented(self, images: Tensor, noise: dict | None) -> Tensor:
        """What the discriminator sees of ``images`` in the GAN losses (DiffAugment, when on)."""
        return images if not noise else augment.apply(images, noise, self.augment)

    # -- the two objectives ----------------------------------------------------------------------
    def discriminator_loss(self, real: Tensor, z: Tensor, noise: dict[str, Tensor],
                           augment_noise: dict | None = None, y: Tensor | None = None) -> tuple[Tensor, dict]:
        players = self.players
        with torch.no_grad():
            fake = players.G(z, y)
        # One pass over real and fake together (no batch norm in D, so this is the same function).
        both = self.augmented(torch.cat([real, fake], dim=1), augment_noise)
        real_out, fake_out = players.D(both, None if y is None else torch.cat([y, y], dim=1)).split(real.shape[1], dim=1)
        loss = self.loss.discriminator(real_out, fake_out)
        logs = {"d_real": real_out.detach().mean(-1), "d_fake": fake_out.detach().mean(-1)}
        if self.penalty is not None:
            penalty = self.penalty(players.critic(y), real, fake, noise)
            loss = loss + self.penalty_weight * penalty
            logs["penalty"] = penalty.detach()
        return loss, logs

    def generator_loss(self, z: Tensor, real: Tensor | None = None, augment_noise: dict | None = None,
                       y: Tensor | None = None) -> Tensor:
        players, noise = self.players, augment_noise or {}
        fake = players.D(self.augmented(players.G(z, y), noise.get("gen")), y)
        if not self.loss.relativistic:
            return self.loss.generator(fake)
        return self.loss.generator(fake, players.D(self.augmented(real, noise.get("gen_real")), y))

    # -- one step of play -----------------------------------------------------------------------
    def discriminator_objective(self, inputs: dict, k: int) -> tuple[Tensor, dict]:
        """The loss of discriminator step k (a game built on this one may change what it sees)."""
        noise = {name: value[k] for name, value in inputs["noise"].items()}
        y = inputs["y_real"][k] if "y_real" in inputs else None
        return self.discriminator_loss(inputs["real"][k], inputs["z_disc"][k], noise, self.augment_noise(inputs, k), y)

    @staticmethod
    def augment_noise(inputs: dict, k: int) -> dict | None:
        """DiffAugment's numbers for critic step k's real-and-fake batch (None when off)."""
        if "augment" not in inputs:
            return None
        return {name: value[k] for name, value in inputs["augment"]["disc"].items()}

    def discriminator_step(self, inputs: dict, k: int) -> dict[str, Tensor]:
        D = self.players.discriminator
        loss, logs = self.discriminator_objective(inputs, k)
        params = list(D.parameters())
        self.players.discriminator_opt.step(torch.autograd.grad(loss.sum(), params))
        self.clip_weights(params)
        self.players.discriminator_updated()
        return {"d_loss": loss.detach(), **logs}

    @torch.no_grad()
    def clip_weights(self, params: list[Tensor]) -> None:
        """WGAN's weight clipping, w <- clamp(w, -c, c), when the game clips."""
        if self.clipping:
            for p in params:
                p.clamp_(-self.clip, self.clip)

    def generator_step(self, z: Tensor, real: Tensor | None = None, augment_noise: dict | None = None,
                       y: Tensor | None = None) -> dict[str, Tensor]:
        loss = self.generator_loss(z, real, augment_noise, y)
        params = list(self.players.generator.parameters())
        self.players.generator_opt.step(torch.autograd.grad(loss.sum(), params))
        return {"g_loss": loss.detach()}

    def step(self, inputs: dict) -> dict[str, Tensor]:
        """One round of play; returns per-player (P,) statistics of the last discriminator step."""
        for k in range(self.disc_steps):
            logs = self.discriminator_step(inputs, k)
        logs.update(self.generator_turn(inputs))
        return logs

    def generator_turn(self, inputs: dict) -> dict[str, Tensor]:
        """The round's generator update, from the inputs ``draw`` gave it."""
        return self.generator_step(inputs["z_gen"], inputs.get("real_gen"), inputs.get("augment"), inputs.get("y_gen"))

    def steps(self, rounds: list[dict]) -> list[dict[str, Tensor]]:
        """Several rounds in a row, one ``draw`` each: compiled, one call instead of several. The
        generator's average follows every round."""
        logs = []
        for inputs in rounds:
            logs.append(self.step(inputs))
            self.players.update_average()
        return logs

    # -- the update unit: one player's update per compiled call ------------------------------------
    def critic_inputs(self, inputs: dict, k: int) -> dict:
        """Critic step k's inputs alone, as a round of one critic step (its leading axis kept, of size 1)."""
        def step_k(value):  # a tensor, or a dict of them (the penalty's noise)
            return {name: t[k:k + 1] for name, t in value.items()} if isinstance(value, dict) else value[k:k + 1]

        picked = {name: step_k(inputs[name]) for name in self.per_critic_step if name in inputs}
        if "augment" in inputs:
            picked["augment"] = {"disc": step_k(inputs["augment"]["disc"])}
        return picked

    def critic_update(self, inputs: dict) -> dict[str, Tensor]:
        """One critic update from ``critic_inputs``."""
        return self.discriminator_step(inputs, 0)

    def generator_update(self, inputs: dict) -> dict[str, Tensor]:
        """The round's generator update, and its average."""
        logs = self.generator_turn(inputs)
        self.players.update_average()
        return logs


# -- the registry entry ----------------------------------------------------------------------------
GAN_ADAM = OptimizerSettings("adam", lr=1e-4, beta1=0.5, beta2=0.999)  # papers.md §4(c)


@dataclass(frozen=True)
class TwoPlayer(GameEntry):
    """A game of this family: its loss, penalty, critic steps, clipping and optimiser defaults, each
    a default of the [game] section (and of the players' optimiser fields) that a config overrides."""

    description: str
    loss: str
    penalty: str = "none"
    penalty_weight: float = 0.0
    disc_steps: int = 1
    clip: float = 0.0
    defaults: OptimizerSettings = GAN_ADAM

    def optimizer(self, cfg) -> OptimizerSettings:
        return self.defaults

    def resolve(self, cfg) -> None:
        game = cfg.game
        game.loss = game.loss or self.loss
        pick("loss", game.loss, LOSSES)
        game.penalty = game.penalty or self.penalty
        pick("penalty", game.penalty, PENALTIES)
        game.penalty_weight = self.penalty_weight if game.penalty_weight is None else game.penalty_weight
        pick("dragan_form", game.dragan_form, DRAGAN_FORMS)
        game.dragan_scale = DRAGAN_FORMS[game.dragan_form] if game.dragan_scale is None else game.dragan_scale
        game.disc_steps = self.disc_steps if game.disc_steps is None else game.disc_steps
        at_least(game.disc_steps, "game.disc_steps")
        game.clip = self.clip if game.clip is None else game.clip

    def build(self, cfg, players: Players, data) -> TwoPlayerGame:
        g = cfg.game
        return TwoPlayerGame(players, LOSSES[g.loss], build_penalty(g, data.kind == "images"), g.penalty_weight,
                             g.disc_steps, g.clip, augment.parse(cfg.data.augment), cfg.run.compile_unit)

    def cost(self, cfg) -> float:
        return cfg.game.disc_steps * (2 if cfg.game.penalty != "none" else 1) + 1
