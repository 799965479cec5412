"""Shared test setup: one CPU thread and fixed seeds, so tests are quick and
repeatable on a shared two-core machine."""

import os
import sys

import pytest
import torch

# Lets the tests import the package when pytest runs without the ini file's
# pythonpath (e.g. from another folder with explicit paths).
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
