"""Tests of the scenario simulator (pure; no broker needed)."""
