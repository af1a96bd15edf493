"""data: photos in. Sources (folders, TFRecords, TFDS), decoding with header checks, the
memory cache, crops -> (L, ab) batches, and image files read and written. Imports the ground only."""
