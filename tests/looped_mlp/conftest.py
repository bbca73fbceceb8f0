"""Shared set-up of the looped_mlp tests.

The loop body is a stack of small matrix products; on the 2 shared CPU cores torch's
thread pool makes them several times slower (threads spin while waiting), so every
test here runs torch single-threaded and restores the setting afterwards.
"""

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
