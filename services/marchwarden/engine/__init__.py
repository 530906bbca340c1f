"""The engine: takes decoded records and commands, runs the picture and the rules, hands on typed outputs."""
