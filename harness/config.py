"""One frozen run configuration: defaults, validated flags, saved beside every run."""
import dataclasses
from dataclasses import dataclass
from typing import Optional

from harness.errors import HarnessError

DEVICE_DATA = ("auto", "on", "off")


@dataclass(frozen=True)
class RunConfig:
    competition: str
    model: Optional[str] = None  # None: the competition's default model
    folds: int = 5
    epochs: int = 30
    seed: int = 42
    batch_size: Optional[int] = None  # per device; None: the model's for this device (models.default_batch)
    image_size: Optional[int] = None  # None: the competition's, else the model's own size
    learning_rate: float = 1e-3
    patience: int = 5  # early stopping on val_loss, best weights restored
    tta: bool = True  # add horizontally flipped test predictions when the competition allows flips
    workers: Optional[int] = None  # decode processes; None: every core
    weights: Optional[str] = None  # "imagenet" | "none" | a weights file; None: the model's default
    fine_tune: int = 0  # epochs with the top of the backbone unfrozen at learning_rate / 10, after the head
    cached_features: bool = False  # frozen backbone run once; only the head trains (no augmentation)
    device_data: str = "auto"  # the image cache on the accelerator: "auto" (when it fits), "on" (CPU too), "off"
    device_share: float = 0.5  # "auto" puts it there when train + test images fit this share of its memory

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in ("folds", "epochs", "batch_size", "patience", "image_size", "workers", "seed",
                              "fine_tune"):
                if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                    raise HarnessError(f"`{field.name}` must be an integer. Received: {field.name}={value!r}")
        if self.folds < 2:
            raise HarnessError(f"`folds` must be at least 2 for k-fold training. Received: folds={self.folds}")
        for name in ("epochs", "batch_size", "patience"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise HarnessError(f"`{name}` must be at least 1. Received: {name}={getattr(self, name)}")
        if self.image_size is not None and not 8 <= self.image_size <= 1024:
            raise HarnessError(f"`image_size` must be between 8 and 1024. Received: image_size={self.image_size}")
        if self.fine_tune < 0:
            raise HarnessError(f"`fine_tune` must be 0 or more epochs. Received: fine_tune={self.fine_tune}")
        if self.fine_tune and self.cached_features:
            raise HarnessError("--fine-tune trains the backbone, so its features cannot be cached; drop one of "
                               "--fine-tune and --cached-features. Received: fine_tune="
                               f"{self.fine_tune}, cached_features=True")
        if self.device_data not in DEVICE_DATA:
            raise HarnessError(f"`device_data` must be one of {', '.join(DEVICE_DATA)}. "
                               f"Received: device_data={self.device_data!r}")
        if not 0 <= self.device_share <= 1:
            raise HarnessError(f"`device_share` must be between 0 and 1. Received: device_share={self.device_share}")
        if not self.learning_rate > 0:
            raise HarnessError(f"`learning_rate` must be positive. Received: learning_rate={self.learning_rate}")

    def replace(self, **changes) -> "RunConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RunConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise HarnessError(f"Unknown config keys {unknown}; known: {sorted(known)}.")
        return cls(**data)
