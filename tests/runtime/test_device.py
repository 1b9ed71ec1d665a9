import pytest
import torch

from mlrun.runtime.device import pick
from mlrun.errors import UserError


def test_cpu_and_auto():
    assert pick("cpu") == torch.device("cpu")
    assert pick("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_cuda_without_cuda_is_one_line():
    with pytest.raises(UserError, match="device=cuda: CUDA is not available .*valid choices here: auto, cpu"):
        pick("cuda")


def test_bad_type():
    with pytest.raises(UserError, match="device.type='tpu': valid choices are auto, cpu, cuda"):
        pick("tpu")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_index_out_of_range():
    with pytest.raises(UserError, match="device.index=99"):
        pick("cuda", 99)
