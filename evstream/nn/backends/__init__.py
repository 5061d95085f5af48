"""Execution backends: fused torch update (CPU/CUDA) and the Numba streaming program."""
