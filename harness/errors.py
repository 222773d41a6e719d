"""The one exception users see: a sentence saying what was received and what to do."""


class HarnessError(Exception):
    """A failure caused by input or environment; the CLI prints it as one line and exits 2."""
