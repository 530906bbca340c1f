"""The live picture: per-section rolling counts, baselines, indicator state and threat level."""
