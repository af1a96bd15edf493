"""archive: colorizing files on one machine, from one photo to a tree of 100,000: inputs and
output names, the resumable manifest, the streaming runner. Imports ground, data, models,
video, serve."""
