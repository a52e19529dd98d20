"""Preset data (TOML), shipped in the wheel and found with importlib.resources."""
