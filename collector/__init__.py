"""The collector: turns agents' samples into device states, outages, uptime and coverage."""
