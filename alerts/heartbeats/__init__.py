"""Heartbeats: alarms for nobody watching — a source or team gone silent for longer than expected at that
hour, the flow lagging, an alerter dead (``monitor`` in the alerters, ``watchdog`` in the API). See
docs/alerts.md."""
