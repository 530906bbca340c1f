"""The demo: one command that starts the stack, streams a scenario and summarises the history."""
