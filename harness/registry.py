"""A name -> thing registry; duplicates are refused and unknown names are answered with the known ones."""
from harness.errors import HarnessError


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._items = {}

    def add(self, name: str, item):
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is registered twice.")
        self._items[name] = item
        return item

    def remove(self, name: str) -> None:
        """Forget `name` (tests register throw-away entries)."""
        self._items.pop(name, None)

    def get(self, name: str):
        if name not in self._items:
            raise HarnessError(f"Unknown {self.kind} {name!r}. Known: {', '.join(self.names())}. "
                               f"Received: {self.kind}={name!r}")
        return self._items[name]

    def names(self) -> list:
        return sorted(self._items)

    def __contains__(self, name) -> bool:
        return name in self._items

    def __iter__(self):
        return iter(self._items.values())
