"""serve: using a trained model. One opener for every kind of model path, the serving graph,
SavedModel and LiteRT export, the rendering filter, colorizing files. Imports ground, data,
models, video."""
