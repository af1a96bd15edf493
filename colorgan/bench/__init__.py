"""bench: bench.py's speed figures (train step, input pipeline, serving, LiteRT, video,
time to quality). Imports any wing: it measures them all."""
