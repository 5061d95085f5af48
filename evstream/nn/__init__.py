"""Stateful spiking neurons and networks (torch), the Numba streaming program, checkpoints.

* :mod:`evstream.nn.neurons`: LIF, PLIF, STC-LIF/STC-PLIF, TDA-LIF layers.
* :mod:`evstream.nn.functional`: their pure step functions.
* :mod:`evstream.nn.zoo`: the papers' networks; :mod:`evstream.nn.tda_net`: TDA-SNN (mode B).
* :mod:`evstream.nn.checkpoint`: one-file save/load.
* :mod:`evstream.nn.backends`: fused torch update, Numba batch-1 program.
* :mod:`evstream.nn.nodes`: ``nn.network`` / ``nn.classifier`` graph nodes.
"""
