"""Side-by-side benchmarks against peer libraries, run by ``evstream bench NAME``.

Each module ``evstream.bench.<name>`` defines ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> list[dict]``: one row per
measurement with at least ``case``, ``tool`` and the measured figures; rows
that compare with a peer carry ``ratio`` (evstream speed / peer speed, > 1
means evstream is faster). A peer that is not installed gives a row with
``"skipped": "<why>"`` instead of figures, never an error.
"""

BENCHES: tuple[str, ...] = ("graph", "io", "binning", "neurons", "learning", "zmq", "cameras", "viz", "fanout", "soak")
