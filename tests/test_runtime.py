import numpy as np
import pytest
import torch

from course_utils import runtime


@pytest.mark.parametrize("mode", ["fast", "cpu", "gpu"])
def test_mode_comes_from_the_environment(monkeypatch, mode):
    monkeypatch.setenv("COURSE_MODE", mode)
    assert runtime.get_mode() == mode
    assert runtime.setup(seed=1).pick(fast="f", cpu="c", gpu="g") == mode[0]


def test_default_mode_follows_the_hardware(monkeypatch):
    monkeypatch.delenv("COURSE_MODE", raising=False)
    expected = "gpu" if runtime._accelerator_available() else "cpu"
    assert runtime.get_mode() == expected


def test_unknown_mode_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "turbo")
    with pytest.raises(ValueError, match="fast, cpu, gpu"):
        runtime.get_mode()


def test_device_override(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert runtime.get_device() == torch.device("cpu")
    monkeypatch.setenv("COURSE_DEVICE", "toaster")
    with pytest.raises(ValueError, match="COURSE_DEVICE"):
        runtime.get_device()


def test_seeding_repeats_every_generator():
    runtime.seed_everything(3)
    first = (np.random.rand(), torch.rand(1).item())
    runtime.seed_everything(3)
    assert (np.random.rand(), torch.rand(1).item()) == first
    with pytest.raises(ValueError, match="seed"):
        runtime.seed_everything(-1)


def test_setup_prints_mode_and_device(monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "fast")
    text = str(runtime.setup(seed=0))
    assert text.startswith("mode: fast | device: ")


def test_progress_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("COURSE_PROGRESS", "0")
    assert runtime.progress(range(3)).disable
    monkeypatch.setenv("COURSE_PROGRESS", "1")
    bar = runtime.progress(range(3))
    assert not bar.disable
    bar.close()
