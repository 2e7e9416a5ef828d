"""The improvement loop's routers, registered together by ``create_app``."""

from api.routes import actions, experiments, reports

ROUTERS = (experiments.router, actions.router, reports.router)
