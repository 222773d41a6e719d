"""Every competition module, imported explicitly so the registry never depends on import order."""
from competitions import animals10, digits, dogs_vs_cats, marvel, pascal_voc  # noqa: F401
