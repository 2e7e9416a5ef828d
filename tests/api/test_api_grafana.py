"""The Grafana dashboard and its provisioning match what the dataflow writes to InfluxDB."""

from __future__ import annotations

import json
import re

import yaml

from sqm.config import Settings
from sqm.models import KPIS


def test_dashboard_panels_query_kpi_fields_of_the_sqm_measurement(repo_root):
    dash = json.loads((repo_root / "dashboards/grafana/sqm-kpis.json").read_text())
    ds = yaml.safe_load((repo_root / "dashboards/grafana/provisioning/datasources/influxdb.yaml").read_text())
    [source] = ds["datasources"]
    assert source["jsonData"]["version"] == "Flux"
    assert source["secureJsonData"]["token"] == "${INFLUX_TOKEN}"  # from the environment, never in the repo
    fields = []
    for panel in dash["panels"]:
        assert panel["datasource"]["uid"] == source["uid"]
        [target] = panel["targets"]
        q = target["query"]
        assert 'r._measurement == "sqm_kpi"' in q
        for tag in ("window", "channel", "region", "team"):
            assert f"r.{tag}" in q
        [field] = re.findall(r'r\._field == "([a-z0-9_]+)"', q)
        assert field in KPIS
        fields.append(field)
    assert {"volume", "frt_avg_s", "frt_p90_s", "service_level", "timeout_rate"} <= set(fields)
    names = [v["name"] for v in dash["templating"]["list"]]
    assert names == ["window", "team", "channel", "region"]


def test_dashboard_thresholds_are_the_targets(repo_root):
    dash = json.loads((repo_root / "dashboards/grafana/sqm-kpis.json").read_text())
    s = Settings()
    for panel in dash["panels"]:
        field = re.findall(r'r\._field == "([a-z0-9_]+)"', panel["targets"][0]["query"])[0]
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        target = getattr(s.targets, field, None) or s.api.wallboard_targets.get(field)
        if target is None:
            assert len(steps) == 1
        else:
            assert [st["value"] for st in steps] == [None, target]
            assert steps[-1]["color"] == ("red" if KPIS[field].bad == "up" else "green")


def test_dashboards_provider_points_where_compose_mounts_them(repo_root):
    prov = yaml.safe_load((repo_root / "dashboards/grafana/provisioning/dashboards/sqm.yaml").read_text())
    assert prov["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    compose = yaml.safe_load((repo_root / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert "./dashboards/grafana:/var/lib/grafana/dashboards:ro" in mounts
    assert "./dashboards/grafana/provisioning:/etc/grafana/provisioning:ro" in mounts
