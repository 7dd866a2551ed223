"""Test-wide settings: one torch thread per process.

The suite runs under pytest-xdist with one worker per core; letting each worker (and each notebook
kernel it starts) also spawn a thread per core oversubscribes the CPU and OpenMP spin-waits make that
many times slower.
"""

import os

os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

import torch

torch.set_num_threads(1)
