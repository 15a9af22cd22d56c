"""roamback: a roaming call-back gateway for mobile operators."""

__version__ = "0.1.0"
