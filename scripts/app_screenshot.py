"""The docs' screenshots of the web app, taken in headless Chromium (Selenium):
  python scripts/app_screenshot.py [--model=pretrained] [--output_dir=docs]

Starts the app on a free port, uploads a shipped validation photo, clicks the hints given
by --hints (x, y, colour; as fractions of the photo), drags the before/after slider and
saves the page (app.png), then colorizes a clip made from two shipped photos in the Video
tab with a colour still of the first shot's photo (app_video.png). Needs Debian's chromium
and chromium-driver, and selenium (the [test] extra).
"""

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # app_browser.py

from colorgan import cli  # noqa: E402  first: quiets TensorFlow's start-up

from absl import flags, logging  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "pretrained", "As colorize.py's --model.")
flags.DEFINE_string("output_dir", "docs", "Where app.png and app_video.png go.")
flags.DEFINE_integer("photo", 2, "Index of the shipped validation photo to upload.")
flags.DEFINE_list("hints", ["0.5:0.62:#e02020", "0.2:0.9:#2050e0"], "x:y:#rrggbb per hint.")


def main(argv):
    import numpy as np
    from PIL import Image

    from colorgan import config
    import app_browser as browser

    from colorgan.app import server
    from colorgan.video import clips

    demo = server.make_app(server.model_choices(FLAGS.model))
    url = server.launch(demo, config.AppConfig(port=0), block=False, quiet=True)
    out = Path(FLAGS.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    driver = browser.chromium(window=(1400, 1900))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            photo = Path(tmp) / "photo.png"
            Image.fromarray(clips.sample_photo(FLAGS.photo)).save(photo)
            page = browser.Page(driver, url)
            page.upload_photo(photo)
            for spec in FLAGS.hints:
                x, y, colour = spec.split(":")
                page.set_colour(colour)
                page.click_canvas(float(x), float(y))
            page.drag_slider(-120)
            driver.save_screenshot(str(out / "app.png"))
            clip = Path(tmp) / "clip.mp4"
            clips.write(clip, clips.two_shots((192, 128), 12)[0])
            still = Path(tmp) / "still.png"  # a colour still of the first shot's set
            Image.fromarray(np.ascontiguousarray(clips.stills((192, 128))[0])).save(still)
            page.colorize_video(clip, still)
            driver.execute_script("window.scrollTo(0, 0)")
            driver.set_window_size(1400, 1120)  # the still below the clips
            driver.save_screenshot(str(out / "app_video.png"))
    except Exception:
        driver.save_screenshot(str(out / "app_failed.png"))
        raise
    finally:
        driver.quit()
        demo.close()
    logging.info("wrote %s and %s", out / "app.png", out / "app_video.png")
    return 0


if __name__ == "__main__":
    cli.run(main)
