"""The two-player games' step written in JAX the usual way, the peer the benchmark measures against.

One pair of MLP players as a list of (weight, bias) arrays, the loss and penalty as plain functions,
``jax.grad`` for the gradients (and for the gradient penalty's inner gradient), optax's Adam, and the
whole step (real samples and latents drawn inside it from a JAX key) under one ``jax.jit`` with the
players' buffers donated. Same networks (the weights copied from gangames' players), batch, data and
optimiser as the torch reference in ``gangames.reference``; ``check`` runs one step of both on the same
inputs and compares the parameters, so a rate is only printed for a step that computes the same thing.

Needs the optional ``bench`` extra (``pip install -e ".[bench]"``); without JAX the benchmark prints a
note and skips the column.
"""

from __future__ import annotations

import time

import numpy as np
import torch

try:
    import jax
    import jax.numpy as jnp
    import optax
except ImportError:  # the optional extra is absent
    jax = None

SUPPORTED = {"minimax", "ns", "wgan-gp", "gan-gp"}  # loss x penalty forms written below


def available() -> bool:
    return jax is not None


def _layers(sequential: torch.nn.Sequential):
    """(weights, activations) of a plain_copy: [(W (in, out), b (out,))], one activation name per layer."""
    params, acts = [], []
    for module in sequential:
        if isinstance(module, torch.nn.Linear):
            params.append((jnp.asarray(module.weight.detach().T.numpy()), jnp.asarray(module.bias.detach().numpy())))
            acts.append(None)
        else:
            acts[-1] = ("leaky", module.negative_slope) if isinstance(module, torch.nn.LeakyReLU) else ("relu", 0.0)
    return params, acts


def _mlp(acts):
    def forward(params, x):
        for (w, b), act in zip(params, acts):
            x = x @ w + b
            if act is not None:
                x = jnp.where(x > 0, x, act[1] * x) if act[0] == "leaky" else jnp.maximum(x, 0)
        return x[..., 0] if x.shape[-1] == 1 else x
    return forward


class JaxGame:
    """One pair of a two-player game (``cfg`` resolved, one critic step per round or ``game.disc_steps``)."""

    def __init__(self, cfg, data, generator: torch.nn.Sequential, critic: torch.nn.Sequential):
        game = cfg.game
        if game.name not in SUPPORTED:
            raise ValueError(f"no JAX step for {game.name}")
        self.g_params, g_acts = _layers(generator)
        self.d_params, d_acts = _layers(critic)
        G, D = _mlp(g_acts), _mlp(d_acts)
        loss, penalty, weight, k = game.loss, game.penalty, game.penalty_weight, game.disc_steps
        batch, latent = cfg.data.batch_size, cfg.generator.latent_dim
        centres = jnp.asarray(np.asarray(data.centres, dtype=np.float32))
        sigma = float(data.sigma)
        g_opt = optax.adam(cfg.generator.lr, b1=cfg.generator.beta1, b2=cfg.generator.beta2, eps=1e-8)
        d_opt = optax.adam(cfg.discriminator.lr, b1=cfg.discriminator.beta1, b2=cfg.discriminator.beta2, eps=1e-8)
        self.g_state, self.d_state = g_opt.init(self.g_params), d_opt.init(self.d_params)

        def d_loss(d_params, x, fake, eps):
            real_out, fake_out = D(d_params, x), D(d_params, fake)
            if loss == "wasserstein":
                value = fake_out.mean() - real_out.mean()
            else:
                value = jnp.mean(jax.nn.softplus(-real_out)) + jnp.mean(jax.nn.softplus(fake_out))
            if penalty == "interpolate":
                points = eps * fake + (1 - eps) * x
                grad = jax.grad(lambda p: D(d_params, p).sum())(points)
                value = value + weight * jnp.mean((jnp.sqrt(game.penalty_guard + (grad**2).sum(-1)) - 1) ** 2)
            return value

        def g_loss(g_params, d_params, z):
            out = D(d_params, G(g_params, z))
            if loss == "wasserstein":
                return -out.mean()
            if loss == "minimax":
                return -jnp.mean(jax.nn.softplus(out))  # -BCE(out, 0)
            return jnp.mean(jax.nn.softplus(-out))  # ns: BCE(out, 1)

        def inputs(key):
            kc, kn, kz, kg, ke = jax.random.split(key, 5)
            real = centres[jax.random.randint(kc, (k, batch), 0, len(centres))] + sigma * jax.random.normal(kn, (k, batch, 2))
            return real, jax.random.normal(kz, (k, batch, latent)), jax.random.normal(kg, (batch, latent)), \
                jax.random.uniform(ke, (k, batch, 1))

        def step(g_params, d_params, g_state, d_state, real, z_disc, z_gen, eps):
            for i in range(k):
                fake = jax.lax.stop_gradient(G(g_params, z_disc[i]))
                grads = jax.grad(d_loss)(d_params, real[i], fake, eps[i])
                updates, d_state = d_opt.update(grads, d_state, d_params)
                d_params = optax.apply_updates(d_params, updates)
            grads = jax.grad(g_loss)(g_params, d_params, z_gen)
            updates, g_state = g_opt.update(grads, g_state, g_params)
            return optax.apply_updates(g_params, updates), d_params, g_state, d_state

        self._step = jax.jit(step)
        self._drawn = jax.jit(lambda g, d, gs, ds, key: step(g, d, gs, ds, *inputs(key)), donate_argnums=(0, 1, 2, 3))
        self.key = jax.random.PRNGKey(0)

    def step(self, real, z_disc, z_gen, eps):
        """One step on given inputs (torch tensors: real (K, B, 2), z_disc (K, B, L), z_gen (B, L), eps (K, B, 1))."""
        args = [jnp.asarray(t.numpy()) for t in (real, z_disc, z_gen, eps)]
        self.g_params, self.d_params, self.g_state, self.d_state = self._step(
            self.g_params, self.d_params, self.g_state, self.d_state, *args)

    def rate(self, steps: int) -> float:
        """Steps/s of ``steps`` steps, each drawing its own inputs inside the jitted step."""
        state = self.g_params, self.d_params, self.g_state, self.d_state
        state = self._drawn(*state, self.key)  # compiled before the clock starts
        jax.block_until_ready(state)
        start = time.perf_counter()
        for i in range(steps):
            state = self._drawn(*state, jax.random.fold_in(self.key, i))
        jax.block_until_ready(state)
        self.g_params, self.d_params, self.g_state, self.d_state = state
        return steps / (time.perf_counter() - start)


def check(cfg, data, players, reference_factory) -> float:
    """Largest parameter difference after three steps of the JAX step and the torch reference
    (``reference_factory()`` -> ReferenceGame on the same weights) on the same inputs."""
    from gangames.reference import plain_copy

    game = JaxGame(cfg, data, plain_copy(players.generator), plain_copy(players.discriminator))
    ref = reference_factory()
    k, batch, latent = cfg.game.disc_steps, cfg.data.batch_size, cfg.generator.latent_dim
    rng = torch.Generator().manual_seed(0)
    centres = torch.as_tensor(np.asarray(data.centres, dtype=np.float32))
    for _ in range(3):
        real = centres[torch.randint(len(centres), (k, batch), generator=rng)] + data.sigma * torch.randn(k, batch, 2, generator=rng)
        z_disc, z_gen = torch.randn(k, batch, latent, generator=rng), torch.randn(batch, latent, generator=rng)
        eps = torch.rand(k, batch, 1, generator=rng)
        ref.step(real, z_disc, z_gen, {"epsilon": eps})
        game.step(real, z_disc, z_gen, eps)
    ours = [np.asarray(a) for w_b in game.g_params + game.d_params for a in w_b]
    theirs = [t.detach().numpy() for module in (ref.G, ref.D) for layer in module if isinstance(layer, torch.nn.Linear)
              for t in (layer.weight.T, layer.bias)]
    return max(float(np.abs(a - b).max()) for a, b in zip(ours, theirs))
