"""The web dashboard and JSON API: login, KPI pages with SVG charts, ``/api/v1``."""
