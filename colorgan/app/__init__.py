"""app: what people click. The web app (python -m colorgan.app) and the Colab notebook's
helpers. Imports every wing below it."""
