"""Inputs: the strict schemas of every input file, presets, Hugging Face import, --set overrides, \
layouts (parse and validate) and loading."""
