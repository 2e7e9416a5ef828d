"""The improvement loop's routers, registered together by ``create_app``."""

from api.routes import actions, experiments, reports, results_page

ROUTERS = (experiments.router, actions.router, reports.router, results_page.router)
