"""Accuracy: reference cases, validation against them, and the error ranges they imply."""
