"""Exporters: Prometheus exposition, InfluxDB writer, coverage reports, Grafana dashboards and alert rules."""
