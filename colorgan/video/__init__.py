"""video: films. Container I/O (PyAV), optical flow and the temporal filter, videos and frame
folders through any colorize function, synthetic clips. Imports the ground and data."""
