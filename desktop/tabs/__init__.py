"""The tabs of each role (see `desktop.roles.tabs_for`)."""
