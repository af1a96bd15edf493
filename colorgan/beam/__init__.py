"""beam: the Apache Beam pipeline that colorizes archives on many machines (`python -m
colorgan.beam`; the [beam] extra). Imports ground, data, models, video, serve, archive."""
