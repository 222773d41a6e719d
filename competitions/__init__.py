"""Every competition module, imported explicitly so the registry never depends on import order."""
from competitions import animals10, aerial_cactus, aptos, cassava, digits, dog_breeds, dogs_vs_cats  # noqa: F401
from competitions import histopathology, marvel, pascal_voc, plant_seedlings  # noqa: F401
