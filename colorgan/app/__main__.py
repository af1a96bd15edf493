"""python -m colorgan.app: the web app (app/web.py) on a model, in the browser."""

from colorgan import cli  # first: quiets TensorFlow's start-up

from absl import flags

from colorgan.app import web

flags.DEFINE_string("model", "pretrained", "As colorize.py's --model.")
flags.DEFINE_string("host", "127.0.0.1", "Address to listen on (0.0.0.0: every interface).")
flags.DEFINE_integer("port", 7860, "Port (0: any free one).", lower_bound=0)
flags.DEFINE_integer("render_size", 0, "As colorize.py's --render_size.", lower_bound=0)

if __name__ == "__main__":
    cli.run(web.main)
