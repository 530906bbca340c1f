"""Alerts: the rules, the alert lifecycle, operator commands and equipment allocation."""
