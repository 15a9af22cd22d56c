"""Diameter peer and Ro charging backend (filled by the Diameter Ro issue)."""
