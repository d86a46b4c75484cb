"""What the network is and how each process runs.

The inventory (province → optional district → commune → devices), the credential
profiles kept apart from it, the settings of the agent and the collector, and loaders
that name file, line and field in every error.
"""
