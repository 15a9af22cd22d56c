"""Front doors: they turn what a channel received into a ``CallbackTrigger`` for the core, nothing more."""

from .http_api import MAX_BODY_BYTES, CallbackEngine, build_api_site

__all__ = ["MAX_BODY_BYTES", "CallbackEngine", "build_api_site"]
