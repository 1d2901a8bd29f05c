"""The auction game over N generator/discriminator pairs (Shim, Choe & Kim 2024, *The Bid Picture*).

Every step, each pair plays its own two-player game on its own minibatch (the independent stage;
the N pairs are one stacked computation). Every K steps:

    lot_i        = {G_i(z_m)}, m = 1..M                          each generator presents a lot
    b[j, i]      = mean_m s_j(G_i(z_m))   (j != i)               every other discriminator bids
                   (- mean s_j(x_real) when bids are centred, so critics' offsets cancel)
    S(i)         = mean_{j != i} b[j, i]                          the value of G_i to the others
    i*           = argmax_i S(i)                                  the winning pair
    L_aux(D_j)   = mu E_{x in A} (s_j(x) - sg(s_{i*}(x)))^2        j != i*, A = real batch + all lots

and every discriminator but the winner's takes T_aux steps on L_aux (the auxiliary stage). The
N x N bid matrix is one batched pass: every discriminator scores all N lots at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from gangames.errors import at_least, pick
from gangames.games.entry import GameEntry, Panel
from gangames.games.losses import LOSSES
from gangames.games.two_player import TwoPlayerGame
from gangames.optim import Optimizer, OptimizerSettings, settings_of
from gangames.seeds import AUCTION, derive_seed

Tensor = torch.Tensor


@dataclass
class AuctionSettings:
    """The [auction] section (Shim et al. 2024); the choices are papers.md §4(g)."""

    players: int = 4  # N pairs (B7)
    player_game: str = "ns"  # the one-pair game each pair plays: ns, wgan, wgan-gp, ... (any registered)
    enabled: bool = True  # false: the classical baseline, N independent pairs (same seeds, same budget)
    period: int = 100  # K: an auction every K steps (B7)
    lot_size: int = 256  # M: samples per lot, and real samples for centring and alignment (B7)
    aux_steps: int = 1  # T_aux: discriminator alignment steps per auction (B7)
    aux_weight: float = 1.0  # mu, the weight of L_aux
    aux_loss: str = "mse"  # mse | bce_soft (B5)
    aux_plus_gan: bool = False  # add each discriminator's GAN loss during alignment (B5)
    aux_update_generators: bool = False  # one generator step for every pair but the winner's (B6)
    bid_space: str | None = None  # probability | logit | critic; default: probability for GAN losses, critic otherwise (B1)
    bid_mode: str | None = None  # raw | centered (minus the bidder's mean score on real data); default raw for probabilities (B3)
    score_rule: str = "mean"  # mean | sum | median of the bids an auctioneer receives (B2)
    best_rule: str = "partner"  # partner: D of the winning pair | lowest_bids_given: the most discerning bidder (B4)


BID_SPACES = ("probability", "logit", "critic")


def to_score(output: Tensor, space: str) -> Tensor:
    """A discriminator's raw output as the score it bids with: D = sigmoid(l) or the raw value."""
    return torch.sigmoid(output) if space == "probability" else output


def bid_matrix(scores_of_lots: Tensor, real_scores: Tensor | None) -> Tensor:
    """b[j, i] = mean over lot i of bidder j's scores, minus j's mean real score if given.

    ``scores_of_lots``: (N bidders, N lots, M); ``real_scores``: (N bidders, M) or None.
    The diagonal (a discriminator bidding on its own partner's lot) is NaN: it never counts.
    """
    bids = scores_of_lots.mean(-1)
    if real_scores is not None:
        bids = bids - real_scores.mean(-1, keepdim=True)
    own = torch.eye(bids.shape[0], dtype=torch.bool, device=bids.device)
    return bids.masked_fill(own, float("nan"))


def auction_scores(bids: Tensor, rule: str = "mean") -> Tensor:
    """S(i) from the bids each auctioneer i received (column i, without the NaN diagonal)."""
    n = bids.shape[0]
    received = bids.T[~torch.eye(n, dtype=torch.bool, device=bids.device)].reshape(n, n - 1)
    if rule == "sum":
        return received.sum(-1)
    if rule == "median":
        return received.median(-1).values
    return received.mean(-1)


def best_discriminator(bids: Tensor, winner: Tensor, rule: str) -> Tensor:
    """The discriminator the others align to: the winner's partner, or the lowest average bidder."""
    if rule == "lowest_bids_given":
        return torch.nanmean(bids, dim=1).argmin()
    return winner


class AuctionGame:
    """N pairs of any two-player game, with auctions and alignment to the best discriminator."""

    def __init__(self, inner: TwoPlayerGame, rules: AuctionSettings, aux_optimizer: Optimizer, seed: int = 0):
        self.inner = inner
        self.players = inner.players
        self.rules = rules
        self.aux_optimizer = aux_optimizer
        # The auctions' own random stream: lots and alignment batches never consume the stream of
        # the independent stage, so with auctions on or off the pairs see the same data and latents.
        device = next(self.players.generator.parameters()).device
        self.stream = torch.Generator(device=device).manual_seed(int(seed))

    def streams(self) -> dict[str, torch.Generator]:
        """Random streams the game owns besides the trainer's (saved in every checkpoint)."""
        return {"auction": self.stream, **self.inner.streams()}

    def modules(self):
        return self.inner.modules()

    def optimizers(self):
        return {**self.inner.optimizers(), "auxiliary": self.aux_optimizer}

    def sample(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.inner.sample(z, y)

    def compiled_steps(self, compile_fn):
        """Compile the independent stage, played every step; the auction (every K steps) stays eager."""
        inner_steps = self.inner.compiled_steps(compile_fn)
        return lambda rounds: self.steps(rounds, inner_steps)

    def auction_after(self, step: int) -> bool:
        """Whether an auction follows step ``step`` (every K steps, when auctions are on)."""
        return self.rules.enabled and step % self.rules.period == 0

    ends_call = auction_after  # the auction is eager: a compiled call must end before it

    # -- randomness ------------------------------------------------------------------------------
    def draw(self, data, batch_size: int, generator: torch.Generator, step: int) -> dict:
        inputs = self.inner.draw(data, batch_size, generator, step)
        if self.auction_after(step):
            n, m, own = self.players.count, self.rules.lot_size, self.stream
            auction = {"lots": self.players.latent((n, m), own)}
            auction["real"], auction["real_labels"] = self.inner._real(data, (m,), own)
            auction["lot_labels"] = self.players.labels((n, m), own)  # a conditional game's lots: labelled
            if self.rules.aux_update_generators:
                auction["z_gen"] = self.players.latent((n, batch_size), own)
                if self.inner.loss.relativistic:
                    auction["real_gen"], auction["y_gen"] = self.inner._real(data, (n, batch_size), own)
                else:
                    auction["y_gen"] = self.players.labels((n, batch_size), own)
            inputs["auction"] = {k: v for k, v in auction.items() if v is not None}
        return inputs

    # -- the auction -----------------------------------------------------------------------------
    def shared(self, samples: Tensor, labels: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """The same (S, *shape) samples (and labels) for every one of the N discriminators."""
        n = self.players.count
        expanded = None if labels is None else labels.unsqueeze(0).expand(n, *labels.shape)
        return samples.unsqueeze(0).expand(n, *samples.shape), expanded

    def score_all(self, samples: Tensor, labels: Tensor | None = None) -> Tensor:
        """Every discriminator's score of the same (S, *shape) samples: (N, S), in one pass (a
        conditional game scores each sample with its label)."""
        return to_score(self.players.D(*self.shared(samples, labels)), self.rules.bid_space)

    def auction(self, lots_latent: Tensor, real: Tensor, lot_labels: Tensor | None = None,
                real_labels: Tensor | None = None) -> dict[str, Tensor]:
        n, m = lots_latent.shape[:2]
        with torch.no_grad():
            lots = self.players.G(lots_latent, lot_labels)  # (N, M, *shape)
            flat = lots.reshape(n * m, *lots.shape[2:])
            labels = None if lot_labels is None else torch.cat([lot_labels.reshape(n * m), real_labels])
            scores = self.score_all(torch.cat([flat, real]), labels)
            lot_scores, real_scores = scores[:, : n * m].reshape(n, n, m), scores[:, n * m :]
            bids = bid_matrix(lot_scores, real_scores if self.rules.bid_mode == "centered" else None)
            value = auction_scores(bids, self.rules.score_rule)
            winner = value.argmax()
            best = best_discriminator(bids, winner, self.rules.best_rule)
        return {"bids": bids, "scores": value, "winner": winner, "best": best, "alignment_set": torch.cat([flat, real]),
                "alignment_labels": labels, "lots": lots, "lot_labels": lot_labels, "real": real,
                "real_labels": real_labels}

    def alignment_loss(self, outputs: Tensor, best: Tensor) -> Tensor:
        """Per-player mean over the alignment set of the gap to the best discriminator: (N,).

        mse: (s_j - sg(s_best))^2 in the bid space; bce_soft: cross-entropy of D_j against the best
        discriminator's probabilities as soft labels.
        """
        pick_best = best.reshape(1)
        if self.rules.aux_loss == "bce_soft":
            target = torch.sigmoid(outputs.index_select(0, pick_best)).detach().expand_as(outputs)
            return F.binary_cross_entropy_with_logits(outputs, target, reduction="none").mean(-1)
        scores = to_score(outputs, self.rules.bid_space)
        return (scores - scores.index_select(0, pick_best).detach()).pow(2).mean(-1)

    def auxiliary_stage(self, result: dict, z_gen: Tensor | None, real_gen: Tensor | None = None,
                        y_gen: Tensor | None = None) -> dict[str, Tensor]:
        players = self.players
        n = players.count
        best = result["best"]
        frozen = torch.arange(n, device=best.device) == best
        params = list(players.discriminator.parameters())
        shared = self.shared(result["alignment_set"], result.get("alignment_labels"))
        before = None
        for _ in range(self.rules.aux_steps):
            gap = self.alignment_loss(players.D(*shared), best)
            before = gap.detach() if before is None else before
            loss = self.rules.aux_weight * gap
            if self.rules.aux_plus_gan:
                real = self.shared(result["real"], result.get("real_labels"))
                loss = loss + self.inner.loss.discriminator(players.D(*real), players.D(result["lots"], result.get("lot_labels")))
            self.aux_optimizer.step(torch.autograd.grad(loss.masked_fill(frozen, 0.0).sum(), params), frozen=frozen)
            self.inner.clip_weights(params)
            players.discriminator_updated(frozen)
        with torch.no_grad():
            after = self.alignment_loss(players.D(*shared), best)
        if z_gen is not None:  # one step for every generator but the winner's, against its aligned partner
            g_loss = self.inner.generator_loss(z_gen, real_gen, None, y_gen)
            g_params = list(players.generator.parameters())
            winner = torch.arange(n, device=best.device) == result["winner"]
            players.generator_opt.step(torch.autograd.grad(g_loss.sum(), g_params), frozen=winner)
        return {"disagreement_before": before, "disagreement_after": after}

    def step(self, inputs: dict) -> dict:
        return self.steps([inputs])[0]

    def steps(self, rounds: list[dict], inner_steps=None) -> list[dict]:
        """The independent stage of every round, with an auction after each round that has one
        (the rounds between two auctions go to ``inner_steps`` together)."""
        inner_steps = inner_steps or self.inner.steps
        logs: list[dict] = []
        start = 0
        for end, inputs in enumerate(rounds, start=1):
            if "auction" not in inputs and end < len(rounds):
                continue
            logs += inner_steps(rounds[start:end])
            start = end
            if "auction" in inputs:
                lots = inputs["auction"]
                result = self.auction(lots["lots"], lots["real"], lots.get("lot_labels"), lots.get("real_labels"))
                aligned = self.auxiliary_stage(result, lots.get("z_gen"), lots.get("real_gen"), lots.get("y_gen"))
                logs[-1]["events"] = {"auction": {"bids": result["bids"], "scores": result["scores"],
                                                  "winner": result["winner"], "best": result["best"], **aligned}}
        return logs


# -- the registry entry ----------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Auction(GameEntry):
    """N pairs of ``auction.player_game``, with auctions (or, ``enabled=False``: the classical
    baseline under its own name). ``registry``: the games, where the pairs' game is looked up."""

    description: str
    registry: dict = field(repr=False)
    enabled: bool = True

    section = "auction"
    settings = AuctionSettings
    panels = (Panel("Auctions", "auctions"),)
    pairs_of_players = True

    def pair_game(self, cfg) -> GameEntry:
        one_pair = {name: entry for name, entry in self.registry.items() if not entry.pairs_of_players}
        return pick("auction.player_game", cfg.auction.player_game, one_pair)

    def optimizer(self, cfg) -> OptimizerSettings:
        return self.pair_game(cfg).optimizer(cfg)

    def games_used(self, cfg) -> list[str]:
        return [cfg.auction.player_game]

    def resolve(self, cfg) -> None:
        auction = cfg.auction
        pair = self.pair_game(cfg)
        if not self.enabled:
            auction.enabled = False
        at_least(auction.players, "auction.players", 2)
        at_least(auction.period, "auction.period")
        at_least(auction.lot_size, "auction.lot_size")
        at_least(auction.aux_steps, "auction.aux_steps", 0)
        pick("auction.aux_loss", auction.aux_loss, ("mse", "bce_soft"))
        pick("auction.score_rule", auction.score_rule, ("mean", "sum", "median"))
        pick("auction.best_rule", auction.best_rule, ("partner", "lowest_bids_given"))
        pair.resolve(cfg)
        auction.bid_space = auction.bid_space or LOSSES[cfg.game.loss].score
        pick("auction.bid_space", auction.bid_space, BID_SPACES)
        auction.bid_mode = auction.bid_mode or ("raw" if auction.bid_space == "probability" else "centered")
        pick("auction.bid_mode", auction.bid_mode, ("raw", "centered"))

    def players(self, cfg) -> int:
        return cfg.auction.players

    def build(self, cfg, players, data) -> AuctionGame:
        inner = self.pair_game(cfg).build(cfg, players, data)
        aux = Optimizer(list(players.discriminator.parameters()), settings_of(cfg.discriminator), players.count)
        return AuctionGame(inner, cfg.auction, aux, derive_seed(cfg.run.seed, AUCTION))

    def cost(self, cfg) -> float:
        return cfg.auction.players * self.pair_game(cfg).cost(cfg)

    def label(self, cfg) -> str:
        mode = "auction" if cfg.auction.enabled else "independent"
        return f"{mode}({cfg.auction.player_game} x{cfg.auction.players})"
