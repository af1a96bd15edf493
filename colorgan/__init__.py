"""colorgan: colour for grayscale photos and films, and colorizers of your own.

The package is laid out in wings by role. Imports point only down this order: a module may
import the ground (the modules directly in colorgan/) and the wings before its own, never
one after it, and never in a circle (tests/test_layout.py checks both).
"""

# ground < data < models < video < serve < archive < beam < evaluate < train < app < bench
WINGS = ("data", "models", "video", "serve", "archive", "beam", "evaluate", "train", "app",
         "bench")
