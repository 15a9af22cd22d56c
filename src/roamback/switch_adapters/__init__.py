"""Switch adapters: the ``SwitchAdapter`` port on a real switch (later) or on the embedded simulator."""

from .simulated import OutcomeRule, RuleSpec, SimulatedSwitch, rules_from_config

__all__ = ["OutcomeRule", "RuleSpec", "SimulatedSwitch", "rules_from_config"]
