"""Embedded components: the tansu broker child process and the one-command local stack."""
