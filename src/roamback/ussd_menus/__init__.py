"""USSD menu engine (filled by the USSD menus issue)."""
