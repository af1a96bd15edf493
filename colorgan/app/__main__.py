"""python -m colorgan.app: the web app (Gradio; app/ui.py) on a model, in the browser."""

from colorgan import cli  # first: quiets TensorFlow's start-up

from absl import flags, logging

from colorgan import config, config_flags
from colorgan.app import server

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "pretrained", "As colorize.py's --model; the page offers it and "
                    "the shipped model.")
flags.DEFINE_string("restorer", "", "As colorize.py's --restorer (the restore and upscale "
                    "toggles).")
# --host, --port, --concurrency, --max_queue, --max_upload_mb, --max_pixels, --display_side,
# --keep_minutes, --share
config_flags.define_flat(config.AppConfig)


def main(argv):
    if len(argv) > 1:
        raise flags.Error(f"unexpected arguments: {argv[1:]}")
    settings = config_flags.flat_values(config.AppConfig)
    demo = server.make_app(server.model_choices(FLAGS.model), FLAGS.restorer, settings)
    logging.info("colorgan app starting on %s:%s (Ctrl-C stops it)", settings.host,
                 settings.port or "a free port")
    server.launch(demo, settings)
    return 0


if __name__ == "__main__":
    cli.run(main)
