"""The KPI dataflow: event streams → KPIs (Redis, InfluxDB) → detectors → anomalies.

Entry point: ``streams.runner.run_flow(settings, redis_url)``. The flow itself is
``streams.flow.build_flow(settings, source, sinks)``; its pure parts (``sketch``,
``accum``, ``contacts``, ``partition``, ``rollup``, on the versioned records of
``state``) are unit-tested without a dataflow. See docs/streams.md.
"""
