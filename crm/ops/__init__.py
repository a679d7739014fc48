"""Operating Tsunagu: health and readiness probes, Prometheus metrics, request ids and JSON logs.

None of this is business logic: it watches the rest. `middleware.py` answers the probe and metrics
endpoints before anything else runs, `health.py` says what is reachable, `metrics.py` defines what
Prometheus scrapes, `logs.py` shapes the JSON log lines.
"""
