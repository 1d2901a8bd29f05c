"""Images: readers of user files, DCGAN players, and image metrics against closed forms and SciPy."""

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch
from scipy import linalg

from gangames import build
from gangames.config import Config, apply_overrides
from gangames.data import images as I
from gangames.errors import ConfigError, DataError
from gangames.metrics import images as M
from gangames.metrics.extractors import get_extractor
from helpers import double, in_float64_with_sgd

RNG = np.random.default_rng(0)


# -- readers ---------------------------------------------------------------------------------------
def write_idx(path, array):
    header = b"\x00\x00\x08" + bytes([array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_idx_reader_and_its_labels(tmp_path):
    images = RNG.integers(0, 256, size=(5, 6, 6))
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(5))
    data = I.user_images("idx", str(tmp_path / "train-images-idx3-ubyte.gz"), None, None)
    assert data.images.shape == (5, 1, 6, 6) and data.labels.tolist() == [0, 1, 2, 3, 4]
    assert torch.allclose(data.images[2, 0], torch.from_numpy(images[2] / 127.5 - 1).float())
    (tmp_path / "bad.idx").write_bytes(b"\x00\x00\x08\x03" + struct.pack(">3I", 5, 6, 6) + b"\x00" * 10)
    with pytest.raises(DataError, match="bad.idx: IDX header says"):
        I.read_idx(tmp_path / "bad.idx")
    (tmp_path / "worse.idx").write_bytes(b"PK\x03\x04")
    with pytest.raises(DataError, match="worse.idx: not an IDX file"):
        I.read_idx(tmp_path / "worse.idx")


def test_array_readers(tmp_path):
    hwc = RNG.integers(0, 256, size=(4, 8, 8, 3)).astype(np.uint8)
    np.save(tmp_path / "a.npy", hwc)
    data = I.user_images("array", str(tmp_path / "a.npy"), None, None)
    assert data.images.shape == (4, 3, 8, 8) and data.images.min() >= -1 and data.images.max() <= 1
    np.savez(tmp_path / "b.npz", images=RNG.random((3, 1, 8, 8)).astype(np.float32), labels=np.array([1, 2, 3]))
    data = I.user_images("array", str(tmp_path / "b.npz"), 4, 3)
    assert data.images.shape == (3, 3, 4, 4) and data.labels.tolist() == [1, 2, 3]
    np.savez(tmp_path / "c.npz", pixels=np.zeros((2, 8, 8)))
    with pytest.raises(DataError, match="c.npz: no images array"):
        I.user_images("array", str(tmp_path / "c.npz"), None, None)
    np.save(tmp_path / "d.npy", np.full((2, 8, 8), 1000.0))
    with pytest.raises(DataError, match="d.npy: pixel values span"):
        I.user_images("array", str(tmp_path / "d.npy"), None, None)


def test_cifar_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for i in (1, 2):
        batch = {b"data": RNG.integers(0, 256, size=(3, 3072)).astype(np.uint8), b"labels": [i, i, i]}
        with open(folder / f"data_batch_{i}", "wb") as handle:
            pickle.dump(batch, handle)
    data = I.user_images("cifar10", str(folder), None, None)
    assert data.images.shape == (6, 3, 32, 32) and data.labels.tolist() == [1, 1, 1, 2, 2, 2]
    (folder / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="data_batch_3: not a CIFAR-10 python batch"):
        I.user_images("cifar10", str(folder), None, None)


def test_image_folder(tmp_path):
    from PIL import Image

    (tmp_path / "sub").mkdir()
    for i, size in enumerate([(20, 10), (12, 12), (30, 40)]):
        Image.fromarray(RNG.integers(0, 256, size=(*size[::-1], 3)).astype(np.uint8)).save(tmp_path / "sub" / f"{i}.png")
    data = I.user_images("image-folder", str(tmp_path), 8, 3)
    assert data.images.shape == (3, 3, 8, 8)
    grey = I.user_images("image-folder", str(tmp_path), 8, 1)
    assert grey.images.shape == (3, 1, 8, 8)
    (tmp_path / "sub" / "broken.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(DataError, match="broken.png: unreadable image"):
        I.user_images("image-folder", str(tmp_path), 8, 3)


def test_missing_fashion_mnist_says_how_to_install(tmp_path):
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        I.fashion_mnist("train", folder=tmp_path)


def test_user_data_needs_a_path():
    for preset in ("array", "csv", "idx"):
        with pytest.raises(DataError, match=f"data preset '{preset}' reads your files: set data.path"):
            build.build_data(build.resolve(apply_overrides(Config(), [f"data.preset={preset}"])))


def test_stacked_fashion_mnist_modes_follow_the_channel_labels():
    base = I.ImageDataset("toy", torch.arange(10.0).reshape(10, 1, 1, 1).expand(10, 1, 2, 2) / 10, torch.arange(10))
    stacked = I.StackedDataset("stacked", base)
    images, modes = stacked.sample_with_modes(500, torch.Generator().manual_seed(0))
    assert images.shape == (500, 3, 2, 2)
    channels = (images[:, :, 0, 0] * 10).round().long()  # each channel's image index = its label here
    assert torch.equal(modes, channels[:, 0] * 100 + channels[:, 1] * 10 + channels[:, 2])
    assert len(torch.unique(modes)) > 300  # independent channels


# -- players ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["digits", "fashion-mnist"])
def test_dcgan_players_stack_like_separate_players(preset):
    cfg = build.resolve(apply_overrides(Config(), [f"data.preset={preset}", "game.name=wgan-gp", "data.batch_size=8",
                                                   "generator.hidden=[8, 16]", "discriminator.hidden=[8, 16]"]))
    data = build.build_data(cfg)
    assert cfg.generator.net == "dcgan" and cfg.discriminator.norm == "none"
    seeds = [3, 4]
    stacked = in_float64_with_sgd(build.build_game(cfg, build.build_players(cfg, data, seeds)))
    singles = [in_float64_with_sgd(build.build_game(cfg, build.build_players(cfg, data, [s]))) for s in seeds]
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in stacked.players.discriminator.modules())
    rng = torch.Generator().manual_seed(0)
    inputs = double(stacked.draw(data, 8, rng, 1))
    stacked.step(inputs)
    for p, single in enumerate(singles):
        single.step({"real": inputs["real"][:, p:p + 1], "z_disc": inputs["z_disc"][:, p:p + 1],
                     "z_gen": inputs["z_gen"][p:p + 1], "noise": {k: v[:, p:p + 1] for k, v in inputs["noise"].items()}})
        z = torch.randn(1, 5, cfg.generator.latent_dim, generator=torch.Generator().manual_seed(9)).double()
        together = stacked.sample(torch.cat([z, z]))[p]
        assert torch.allclose(together, single.sample(z)[0], atol=1e-12)
        x = inputs["real"][0, p:p + 1]
        assert torch.allclose(stacked.players.discriminator(inputs["real"][0])[p], single.players.discriminator(x)[0],
                              atol=1e-12)


def test_image_games_train_and_write_sample_grids(tmp_path):
    from gangames.training.trainer import Trainer

    for name, extra in (("ns", []), ("robust-w", ["robust.mode=feature", "robust.warmup=0"]),
                        ("auction", ["auction.players=2", "auction.period=2", "auction.lot_size=8"])):
        cfg = apply_overrides(Config(), [f"game.name={name}", "data.preset=digits", "run.steps=4", "data.batch_size=8",
                                         "generator.hidden=[8, 16]", "discriminator.hidden=[8, 16]", "run.progress=false",
                                         "run.snapshot_size=16", *extra])
        result = Trainer(cfg, tmp_path / name).run()
        assert result.step == 4
        pngs = sorted(p.name for p in (tmp_path / name / "samples").glob("*.png"))
        assert pngs == (["step-00000004-player0.png", "step-00000004-player1.png"] if name == "auction"
                        else ["step-00000004.png"])
    # 16 digits of 8x8 in 4 columns: 37 px natively, written enlarged 13x (nearest neighbour)
    from PIL import Image

    from gangames.io import image_grid

    written = np.asarray(Image.open(tmp_path / "ns" / "samples" / "step-00000004.png"))
    assert written.shape == (37 * 13, 37 * 13)
    samples = np.load(tmp_path / "ns" / "samples" / "step-00000004.npy")
    native = image_grid(samples.reshape(-1, 1, 8, 8)[:16], width=0)
    assert native.shape == (37, 37)
    for dy, dx in ((0, 0), (12, 5), (6, 12)):  # every pixel of a 13x13 block is the native pixel
        assert np.array_equal(written[dy::13, dx::13], native)
    from gangames.training.evaluation import evaluate_run

    result = evaluate_run(tmp_path / "ns", num=200, metrics=["fid", "kid"])
    assert (result["extractor"], result["reference_split"], result["samples"]) == ("digits-cnn", "train", 200)
    assert np.isfinite(result["metrics"]["fid"]) and result["metrics"]["fid"] > 0


# -- metrics ---------------------------------------------------------------------------------------
def scipy_frechet(mu1, s1, mu2, s2):
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def test_frechet_distance_against_scipy_and_closed_forms():
    a, b = RNG.normal(size=(500, 6)), RNG.normal(size=(400, 6)) @ RNG.normal(size=(6, 6)) + 1
    mu1, s1 = M.moments(a)
    mu2, s2 = M.moments(b)
    assert M.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(scipy_frechet(mu1, s1, mu2, s2), rel=1e-8)
    assert M.frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-9)
    shift = np.arange(6.0)
    assert M.frechet_distance(mu1, s1, mu1 + shift, s1) == pytest.approx((shift**2).sum(), rel=1e-9)


def test_frechet_distance_of_degenerate_covariances_is_real():
    low_rank = RNG.normal(size=(300, 2)) @ RNG.normal(size=(2, 40))  # rank 2 in 40 dimensions
    mu, s = M.moments(low_rank)
    # Sigma_2 = c Sigma_1: the closed form is |mu_1 - mu_2|^2 + tr(Sigma_1) (1 - sqrt(c))^2, here on a
    # covariance of rank 2 (38 zero eigenvalues, where a complex sqrtm goes wrong).
    c = 1e-12
    value = M.frechet_distance(mu, s, mu + 1, s * c)
    assert isinstance(value, float)
    assert value == pytest.approx(40 + np.trace(s) * (1 - np.sqrt(c)) ** 2, rel=1e-9)
    with pytest.raises(M.MetricError, match="more samples than feature dimensions: 30 samples, 40 dimensions"):
        M.moments(low_rank[:30])


def test_kid_against_a_direct_double_loop():
    x, y = RNG.normal(size=(12, 4)), RNG.normal(size=(9, 4)) + 0.5

    def k(a, b):
        return (a @ b / 4 + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(12) for j in range(12) if i != j) / (12 * 11)
    yy = sum(k(y[i], y[j]) for i in range(9) for j in range(9) if i != j) / (9 * 8)
    xy = sum(k(x[i], y[j]) for i in range(12) for j in range(9)) / (12 * 9)
    assert M.mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-10)
    same = RNG.normal(size=(2000, 4))
    mean, _ = M.kernel_inception_distance(same[:1000], same[1000:], subsets=20, subset_size=500)
    assert abs(mean) < 0.02  # unbiased: about zero for one distribution


def test_precision_recall_inception_score_and_stacked_modes():
    x = RNG.normal(size=(300, 3))
    assert M.precision_recall(x, x.copy()) == (1.0, 1.0)
    assert M.precision_recall(x, x + 100) == (0.0, 0.0)
    half = M.precision_recall(x, np.vstack([x[:150], x[:150] + 100]))
    assert half[0] == pytest.approx(0.5) and half[1] < 1
    assert M.inception_score(np.full((100, 10), 0.1))[0] == pytest.approx(1.0)
    assert M.inception_score(np.eye(10)[np.arange(1000) % 10])[0] == pytest.approx(10.0)
    one = M.stacked_modes(np.zeros((26, 3), dtype=int))
    assert one == {"stacked_modes": 1, "stacked_kl": pytest.approx(np.log(1000))}
    every = np.array([[i // 100, i // 10 % 10, i % 10] for i in range(1000)] * 3)
    assert M.stacked_modes(every) == {"stacked_modes": 1000, "stacked_kl": pytest.approx(0.0, abs=1e-12)}


def test_precision_recall_uses_the_first_pr_samples_of_each_side():
    from types import SimpleNamespace

    from gangames.config import EvalConfig
    from gangames.metrics.registry import METRICS, Context

    x = RNG.normal(size=(300, 3))
    fake = np.vstack([x[:150], x[:150] + 100])  # the far half lies beyond the first 150
    flat = SimpleNamespace(name="flat", features=lambda images: np.asarray(images))
    for cap, precision in ((150, 1.0), (300, 0.5)):
        ctx = Context(fake, x, None, EvalConfig(pr_samples=cap), {"extractor": flat, "reference_features": x})
        assert METRICS["precision_recall"].compute(ctx)["precision"] == pytest.approx(precision)


@pytest.mark.parametrize("name, split, minimum", [("digits-cnn", "digits", 0.97), ("fashion-cnn", "fashion", 0.90)])
def test_committed_classifiers_reach_their_accuracy(name, split, minimum):
    data = I.digits("test") if split == "digits" else I.fashion_mnist("test")
    extractor = get_extractor(name)
    predicted = extractor.logits_per_channel(data.images)[:, 0].argmax(-1)
    accuracy = float((predicted == data.labels.numpy()).mean())
    assert accuracy >= minimum, accuracy
    assert extractor.features(data.images[:5]).shape == (5, 128)


def test_user_extractors(tmp_path):
    module = torch.jit.script(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 7)))
    module.save(str(tmp_path / "net.pt"))
    extractor = get_extractor(f"torchscript:{tmp_path / 'net.pt'}")
    assert extractor.features(torch.zeros(3, 1, 8, 8)).shape == (3, 7)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 5))
    batch = torch.export.Dim("batch")
    program = torch.export.export(net, (torch.zeros(4, 1, 8, 8),), dynamic_shapes=({0: batch},))
    torch.export.save(program, str(tmp_path / "net.pt2"))
    images = torch.randn(1003, 1, 8, 8)  # more than one internal batch of 1000
    features = get_extractor(f"export:{tmp_path / 'net.pt2'}").features(images)
    assert np.allclose(features, net(images).detach().numpy(), atol=1e-6)
    (tmp_path / "bad.pt2").write_bytes(b"not a program")
    with pytest.raises(ConfigError, match="is not a torch.export program"):
        get_extractor(f"export:{tmp_path / 'bad.pt2'}")
    with pytest.raises(ConfigError, match="unknown extractor 'inception'"):
        get_extractor("inception")
    with pytest.raises(ConfigError, match="does not exist"):
        get_extractor(f"torchscript:{tmp_path / 'missing.pt'}")
