"""Event cameras: live backends behind one interface, and emulators for when none is plugged in.

* :mod:`~evstream.cameras.backends` / :mod:`~evstream.cameras.live`: neuromorphic-drivers,
  dv-processing and Metavision cameras, backend selection, settings, drops.
* :mod:`~evstream.cameras.emulator`: any packet stream delivered like a live camera
  (paced, looping, rate limit, packet loss).
* :mod:`~evstream.cameras.scene`, :mod:`~evstream.cameras.gestures`,
  :mod:`~evstream.cameras.contrast`, :mod:`~evstream.cameras.synthetic`: a synthetic
  DVS looking at moving shapes or a person performing the 11 DVS Gesture motions.
* :mod:`~evstream.cameras.video`: video frames to events.
* :mod:`~evstream.cameras.nodes`: the ``cameras.*`` graph nodes.

Driver packages are imported only when a backend is used.
"""
