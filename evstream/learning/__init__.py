"""Training spiking networks: datasets of binned frames, a BPTT trainer and the S-TLLR rule.

* :mod:`evstream.learning.stllr`: S-TLLR layers and the per-sequence learning step.
* :mod:`evstream.learning.eligibility`: the autograd operations behind the rule.
* :mod:`evstream.learning.datasets`: N-MNIST, DVS Gesture and labelled recordings as frames.
* :mod:`evstream.learning.trainer`: epochs, schedules, checkpoints, metrics.
* :mod:`evstream.learning.nodes`: the online S-TLLR graph node.
"""
