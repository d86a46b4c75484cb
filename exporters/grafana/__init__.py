"""Grafana dashboards (generated JSON) and provisioning files for netmon."""
