"""The KPI dataflow: event streams → KPIs (Redis, InfluxDB) → detectors → anomalies.

Entry point: ``streams.runner.run_flow(settings, redis_url)``. The flow itself is
``streams.flow.build_flow``; its pure parts (``sketch``, ``accum``, ``partition``,
``rollup``) are unit-tested without a dataflow. See docs/streams.md.
"""
