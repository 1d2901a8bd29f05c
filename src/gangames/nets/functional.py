"""A user's ``nn.Module`` as P players: its parameters stacked on a leading player axis, called as one
batched computation (``torch.func.functional_call`` under ``torch.func.vmap``, no loop over players).

Player p is the module a factory returns under ``torch.manual_seed(seeds[p])``: independent
initialisations, each from its player's seed alone, as the built-in players. The stacked module
then behaves like every player in gangames: parameters (P, ...), inputs (P, B, ...), a generator
returns (P, B, *sample), a discriminator (P, B). Penalties differentiate it per sample, clipping
and the optimisers act on its stacked parameters, the auction scores lots with it, and a critic
that offers ``features(x)`` and ``score_features(h)`` serves the robust game's feature mode.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from gangames.errors import ConfigError
from gangames.nets import spectral

CRITIC_METHODS = ("features", "score_features")


def describe(factory) -> str:
    return getattr(factory, "__qualname__", None) or repr(factory)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:200] if text else ''}"


def build_copies(factory: Callable[[], nn.Module], seeds: Sequence[int], role: str) -> list[nn.Module]:
    """One module per seed, each built under that seed (the global RNG is left as it was)."""
    copies = []
    for seed in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed) % 2**63)
            try:
                module = factory()
            except Exception as err:
                raise ConfigError(f"{role} factory {describe(factory)} failed: {_first_line(err)}") from None
        if not isinstance(module, nn.Module):
            raise ConfigError(f"{role} factory {describe(factory)} returned {type(module).__name__}, not an nn.Module")
        copies.append(module)
    shapes = [{k: tuple(v.shape) for k, v in m.state_dict().items()} for m in copies]
    if any(s != shapes[0] for s in shapes):
        raise ConfigError(f"{role} factory {describe(factory)} returned modules of different shapes for different seeds")
    return copies


def batch_norm_layers(module: nn.Module) -> list[str]:
    return [name or type(m).__name__ for name, m in module.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


class _Call(nn.Module):
    """Calls one method of the wrapped module, so that ``functional_call`` can run any of them."""

    def __init__(self, module: nn.Module, method: str):
        super().__init__()
        self.module, self.method = module, method

    def forward(self, *args):
        return getattr(self.module, self.method)(*args)


class StackedModule(nn.Module):
    """P copies of one module architecture as one module with stacked parameters (see the module doc).

    ``score_output``: the module is a discriminator; its output per sample (shape (B,) or (B, 1)) is
    returned as (P, B).
    """

    def __init__(self, copies: list[nn.Module], score_output: bool, spectral_norm: bool = False):
        super().__init__()
        self.players, self.score_output = len(copies), score_output
        template = copy.deepcopy(copies[0])
        params, buffers = stack_module_state(copies)
        self._names = list(params)
        self._buffer_names = list(buffers)
        # Parameters as ordinary (P, ...) parameters of this module: optimisers, clipping and
        # checkpoints see them like any stacked player's.
        self.stacked = nn.ParameterList([nn.Parameter(params[name].detach().clone()) for name in self._names])
        for i, name in enumerate(self._buffer_names):
            self.register_buffer(f"buffer_{i}", buffers[name].clone())
        # Spectral normalisation of every weight matrix or kernel (names ending in "weight", 2-D or
        # more per player): one power-iteration vector per weight and player (nets/spectral.py).
        self._normalised = [i for i, (name, p) in enumerate(zip(self._names, self.stacked))
                            if spectral_norm and name.endswith("weight") and p.dim() >= 3]
        for i in self._normalised:
            self.register_buffer(f"spectral_u_{i}", spectral.start_vector(self.stacked[i].detach()))
        self._calls = {"forward": _Call(template, "forward")}
        for method in CRITIC_METHODS:
            if callable(getattr(template, method, None)):
                self._calls[method] = _Call(template, method)
        self._template = [template]  # not a submodule: its own parameters are never used

    @property
    def module(self) -> nn.Module:
        """The architecture (one copy; its own weights are not the players')."""
        return self._template[0]

    def _weights(self) -> list[torch.Tensor]:
        weights = list(self.stacked)
        for i in self._normalised:
            weights[i] = spectral.normalised(weights[i], getattr(self, f"spectral_u_{i}"))
        return weights

    def refresh_spectral_norm(self, frozen: torch.Tensor | None = None) -> None:
        for i in self._normalised:
            spectral.refresh(self.stacked[i], getattr(self, f"spectral_u_{i}"), frozen)

    def _state(self) -> tuple[dict, dict]:
        params = {f"module.{name}": p for name, p in zip(self._names, self._weights())}
        buffers = {f"module.{name}": getattr(self, f"buffer_{i}") for i, name in enumerate(self._buffer_names)}
        return params, buffers

    def _vmapped(self, method: str, *inputs: torch.Tensor) -> torch.Tensor:
        """The method on every player's slice of ``inputs`` (each (P, B, ...): samples, and labels)."""
        call = self._calls[method]
        params, buffers = self._state()
        if self.players == 1:  # one player: its parameters' only slice, no vmap (the same numbers, less overhead)
            first = {k: v[0] for k, v in params.items()}, {k: v[0] for k, v in buffers.items()}
            return functional_call(call, first, tuple(x[0] for x in inputs)).unsqueeze(0)

        def one(p, b, *xs):
            return functional_call(call, (p, b), xs)

        return vmap(one)(params, buffers, *inputs)

    def _scores(self, out: torch.Tensor, what: str) -> torch.Tensor:
        if out.dim() == 3 and out.shape[-1] == 1:
            out = out.squeeze(-1)
        if out.dim() != 2:
            raise ConfigError(f"the discriminator's {what} must be one number per sample, shape (B,) or (B, 1); "
                              f"got {tuple(out.shape[1:])} per batch")
        return out

    def forward(self, x: torch.Tensor, *labels: torch.Tensor) -> torch.Tensor:
        out = self._vmapped("forward", x, *labels)
        return self._scores(out, "output") if self.score_output else out

    # -- the critic protocol (when the module has it) ---------------------------------------------
    @property
    def critic_protocol(self) -> bool:
        """Whether the user's module offers ``features`` and ``score_features``."""
        return all(method in self._calls for method in CRITIC_METHODS)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self._vmapped("features", x)

    def score_features(self, h: torch.Tensor, *labels: torch.Tensor) -> torch.Tensor:
        return self._scores(self._vmapped("score_features", h, *labels), "score_features")

    def player(self, p: int) -> nn.Module:
        """Player p as a plain module of the user's class, with its current weights."""
        one = copy.deepcopy(self.module)
        params, buffers = self._state()
        state = {k.removeprefix("module."): v[p].detach().clone() for k, v in {**params, **buffers}.items()}
        one.load_state_dict(state)
        return one


def user_players(factory: Callable[[], nn.Module], seeds: Sequence[int], role: str, probe: torch.Tensor,
                 sample_shape: tuple[int, ...], spectral_norm: bool = False, classes: int | None = None) -> StackedModule:
    """P = len(seeds) players of ``role`` from a factory, checked on a probe batch (B, *input).

    A generator must map latents to samples of ``sample_shape``; its batch norm layers use batch
    statistics, never running averages (sampling then changes no state). A discriminator must give
    one number per sample, and may not hold batch norm: every game here scores each sample on its
    own (gradient penalties, the robust game's defenders, the bids, one pass over real and fake
    together), which batch statistics would couple.
    """
    copies = build_copies(factory, seeds, role)
    name = describe(factory)
    critic = role == "discriminator"
    if critic:
        layers = batch_norm_layers(copies[0])
        if layers:
            raise ConfigError(f"discriminator {name} has batch norm ({', '.join(layers[:3])}): gradient penalties, the "
                              "robust game and the bids score each sample on its own, which batch statistics couple; "
                              "use LayerNorm, GroupNorm or no normalisation")
    else:
        for module in copies:
            torch.func.replace_all_batch_norm_modules_(module)
    stacked = StackedModule(copies, score_output=critic, spectral_norm=spectral_norm)
    labels = (torch.zeros(len(seeds), probe.shape[0], dtype=torch.long),) if classes else ()
    try:
        with torch.no_grad():
            out = stacked(probe.unsqueeze(0).expand(len(seeds), *probe.shape), *labels)
    except ConfigError:
        raise
    except Exception as err:
        called = "(inputs, labels)" if classes else "inputs"
        raise ConfigError(f"{role} {name} failed on a batch of {called}, inputs of shape {tuple(probe.shape)} (run "
                          f"as {len(seeds)} players under torch.func.vmap): {_first_line(err)}") from None
    if not critic and tuple(out.shape[2:]) != tuple(sample_shape):
        raise ConfigError(f"generator {name} returned shape {tuple(out.shape[2:])} per sample for latents of shape "
                          f"{tuple(probe.shape[1:])}; the data's samples have shape {tuple(sample_shape)} "
                          "(set generator.latent_dim to its input size if that is the problem)")
    return stacked
