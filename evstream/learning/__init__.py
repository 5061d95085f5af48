"""Training spiking networks: datasets of binned frames, a BPTT trainer and the S-TLLR rule.

* :mod:`evstream.learning.stllr`: S-TLLR traces, layers and the per-sequence learning step;
  :mod:`evstream.learning.eligibility`: the autograd operations behind the rule;
  :mod:`evstream.learning.synapse` / :mod:`evstream.learning.stllr_neuron`: the rule's WS
  synapse and reference neuron.
* :mod:`evstream.learning.networks`: put a zoo network under a rule (``use_rule``).
* :mod:`evstream.learning.datasets`: N-MNIST, DVS Gesture and labelled recordings as frames.
* :mod:`evstream.learning.trainer`: epochs, schedule, mixed precision, metrics;
  :mod:`evstream.learning.checkpoint`: model files and resumable state.
* :mod:`evstream.learning.catalog` / :mod:`evstream.learning.session`: what ``evstream train``
  and ``evstream eval`` offer and do.
* :mod:`evstream.learning.nodes`: the online S-TLLR graph node and the label-file source.
"""
