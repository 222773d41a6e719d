"""Every competition module, imported explicitly so the registry never depends on import order."""
from competitions import digits  # noqa: F401
