"""The simulated contact center: a producer of ``ServiceEvent``s beside HTTP ingest and replay.

``Simulator`` generates a seeded center's events (``sim.simulator``); ``Incident``
injects a change (``sim.incidents``); ``write_stream``, ``write_ndjson`` and ``paced``
send them on (``sim.io``). It imports the core only. See docs/simulator.md.
"""
