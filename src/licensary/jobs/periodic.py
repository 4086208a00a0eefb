"""Work the worker runs every so often beside the jobs (the lifecycle sweep, ...).

The app that owns the work registers it in its `AppConfig.ready`; jobs runs whatever is
registered and so imports no app above it."""

from collections.abc import Callable
from dataclasses import dataclass

# One round: asked `should_stop` between its units (SIGTERM), it returns what to log, or None.
Round = Callable[[Callable[[], bool]], str | None]


@dataclass(frozen=True)
class Periodic:
    name: str
    run: Round
    every_seconds: float


_registry: dict[str, Periodic] = {}


def register(*, name: str, run: Round, every_seconds: float) -> Periodic:
    """Run `run` every `every_seconds` in each worker; registering a name again replaces it."""
    if every_seconds <= 0:
        raise ValueError(f"{name}: every_seconds must be positive")
    work = Periodic(name=name, run=run, every_seconds=every_seconds)
    _registry[name] = work
    return work


def registered() -> list[Periodic]:
    return list(_registry.values())
