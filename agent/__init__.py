"""The agent: polls routers and commune endpoints (SNMP, ICMP, TCP) and publishes samples."""
