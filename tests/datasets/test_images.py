import numpy as np
import pytest
import torch

from mlrun.datasets._images import ImagePreprocess, channel_stats, random_crop


def shifted(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """x (C, H, W) moved by (dy, dx), the uncovered border 0: out[i, j] = x[i + dy, j + dx]."""
    out = torch.zeros_like(x)
    h, w = x.shape[1:]
    out[:, max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)] = \
        x[:, max(0, dy):h - max(0, -dy), max(0, dx):w - max(0, -dx)]
    return out


def test_eval_mode_is_exactly_the_normalisation():
    pre = ImagePreprocess([0.1, 0.5, 0.9], [0.2, 0.3, 0.4], augment=True, pad=2, flip=True).eval()
    x = torch.randint(0, 256, (5, 3, 6, 7), dtype=torch.uint8)
    want = (x.double() / 255 - torch.tensor([0.1, 0.5, 0.9]).view(1, 3, 1, 1).double()) \
        / torch.tensor([0.2, 0.3, 0.4]).view(1, 3, 1, 1).double()
    out = pre(x)
    assert out.dtype == torch.float32 and torch.allclose(out.double(), want, atol=1e-5)
    assert list(pre.parameters()) == [] and pre.state_dict() == {}      # nothing to store in checkpoints


def test_train_mode_without_augment_changes_nothing():
    x = torch.randint(0, 256, (4, 1, 5, 5), dtype=torch.uint8)
    pre = ImagePreprocess([0.0], [1.0], augment=False).train()
    assert torch.equal(pre(x), x.float() / 255)


def test_random_crop_is_a_zero_filled_shift_of_up_to_pad_pixels():
    torch.manual_seed(0)
    x = torch.randint(1, 256, (400, 2, 5, 6), dtype=torch.uint8)       # no zeros: the fill is visible
    out = random_crop(x, pad=2)
    assert out.shape == x.shape and out.dtype == torch.uint8
    seen = set()
    for a, b in zip(x, out):
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if torch.equal(shifted(a, dy, dx), b)]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) == 25                                               # every shift in [-2, 2]² occurs


def test_flip_mirrors_about_half_the_images():
    torch.manual_seed(0)
    x = torch.randint(0, 256, (1000, 1, 4, 4), dtype=torch.uint8)
    pre = ImagePreprocess([0.0], [1.0], augment=True, pad=0, flip=True).train()
    out = (pre(x) * 255).round().to(torch.uint8)
    same = (out == x).flatten(1).all(1)
    mirrored = (out == x.flip(3)).flatten(1).all(1)
    assert bool((same | mirrored).all())
    assert 400 < int((mirrored & ~same).sum()) < 600


def test_channel_stats_match_numpy():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (50, 3, 4, 5)).astype(np.uint8)
    mean, std = channel_stats(x, chunk=7)
    scaled = x / 255.0
    assert np.allclose(mean, scaled.mean(axis=(0, 2, 3))) and np.allclose(std, scaled.std(axis=(0, 2, 3)))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_augmentation_runs_on_the_gpu():
    pre = ImagePreprocess([0.5], [0.5], augment=True, pad=2, flip=True).cuda().train()
    out = pre(torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8, device="cuda"))
    assert out.is_cuda and out.shape == (64, 1, 28, 28)
