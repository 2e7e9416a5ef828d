"""Static assets: the wallboard (``wallboard/``) and Grafana dashboards (``grafana/``). No Python logic."""
