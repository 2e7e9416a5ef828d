"""sqm's HTTP API and wallboard server (FastAPI).

The entry point is the app factory ``api.app.create_app(settings, redis=...)``;
there is no module-level app. Routes live in ``api.routes`` (one APIRouter per
resource), dependencies in ``api.deps``, authentication in ``api.security``.
"""
