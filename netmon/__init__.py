"""netmon: monitoring for a province's dedicated state data network."""

__version__ = "0.1.0"
