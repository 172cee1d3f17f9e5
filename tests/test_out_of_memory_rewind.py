"""The out-of-memory rewind: each epoch starts with copies of the weights, the optimizer's state and
the weight average kept on the CPU (the GPU's memory is what runs short), which put the epoch's start
back when a batch does not fit. On the CPU here; on a GPU too where there is one."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from deepfake_coach.train import loop
from deepfake_coach.train.models import build_model
from deepfake_coach.train.run import RunFolder
from deepfake_coach.train.weight_average import WeightAverage

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU"))]


def tensors(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from tensors(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from tensors(item)


def a_step(model, optimizer, device) -> None:
    x, y = torch.rand(4, 3, 32, 32, device=device), torch.tensor([0, 1, 0, 1], device=device)
    optimizer.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()


@pytest.mark.parametrize("device", DEVICES)
def test_the_epochs_snapshot_is_on_the_cpu_and_the_rewind_restores_it(tmp_path, device):
    torch.manual_seed(0)
    model = build_model("custom_cnn", pretrained=False).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    a_step(model, optimizer, device)  # so the optimizer has state to keep
    average = WeightAverage(model, horizon=4)
    average.update(model)

    before = loop._snapshot(model, optimizer, average)
    copies = list(tensors(before))
    assert copies and all(t.device.type == "cpu" for t in copies)
    live = {t.data_ptr() for t in tensors((model.state_dict(), optimizer.state_dict(), average.state_dict()))}
    assert not live & {t.data_ptr() for t in copies}  # copies, not the live tensors themselves
    assert before[0]._metadata == model.state_dict()._metadata  # the modules' versions go with the weights
    start = {name: t.detach().cpu().clone() for name, t in model.state_dict().items()}

    a_step(model, optimizer, device)  # the epoch goes on, then a batch does not fit
    average.update(model)
    notes = []
    run = SimpleNamespace(device=torch.device(device), model=model, optimizer=optimizer, average=average, batch_size=8,
                          folder=RunFolder(tmp_path, writes=False))
    assert loop._recover_from_oom(run, before, SimpleNamespace(note=notes.append)) == 4
    assert "batches of 4" in notes[0]
    assert all(torch.equal(t.cpu(), start[name]) for name, t in model.state_dict().items())
    assert average.steps == 1 and all(t.device.type == torch.device(device).type for t in average.average.state_dict().values())
    moments = [t for state in optimizer.state.values() for key, t in state.items() if key != "step"]
    assert moments and all(t.device.type == torch.device(device).type for t in moments)  # back beside the weights
