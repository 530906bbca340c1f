"""Marchwarden: event-sourced situational awareness for hybrid threats on a land border."""

__version__ = "0.1.0"
