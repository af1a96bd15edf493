"""models: the networks (pix2pix U-Net, VGG16-encoder U-Net, PatchGAN), their layers, colour
hints, and weights (the shipped colorizer, --init_from). Imports the ground and data."""
