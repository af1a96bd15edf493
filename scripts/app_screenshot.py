"""The README's screenshot of the web app, taken in headless Chromium (Selenium):
  python scripts/app_screenshot.py --model=runs/hints --output=docs/app.png

Starts the app on a free port, uploads a shipped validation photo, clicks the hints
given by --hints (x, y, colour; as fractions of the photo) and saves the page.
Needs Debian's chromium and chromium-driver, and selenium (the [test] extra).
"""

import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from colorgan import cli  # noqa: E402  first: quiets TensorFlow's start-up

from absl import flags, logging  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "pretrained", "As colorize.py's --model.")
flags.DEFINE_string("output", "docs/app.png", "The screenshot (PNG).")
flags.DEFINE_integer("photo", 2, "Index of the shipped validation photo to upload.")
flags.DEFINE_list("hints", ["0.5:0.5:#e02020"], "x:y:#rrggbb per hint.")


def main(argv):
    import tempfile

    from selenium import webdriver
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from colorgan.app import web
    from colorgan.video import clips
    from colorgan.serve import opener
    from PIL import Image

    server = web.make_server(opener.open_model(FLAGS.model), port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--window-size=1400,1150"):
        options.add_argument(arg)
    browser = webdriver.Chrome(options=options,
                               service=webdriver.ChromeService("/usr/bin/chromedriver"))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            photo = Path(tmp) / "photo.png"
            Image.fromarray(clips.sample_photo(FLAGS.photo)).save(photo)
            browser.get(f"http://127.0.0.1:{server.server_address[1]}/")
            wait = WebDriverWait(browser, 120)
            browser.find_element(By.ID, "upload").send_keys(str(photo))
            wait.until(lambda b: b.find_element(By.ID, "auto").get_attribute("data-ready") == "1")
            image = browser.find_element(By.ID, "photo")
            for n, spec in enumerate(FLAGS.hints, 1):
                x, y, colour = spec.split(":")
                browser.execute_script(f"document.getElementById('color').value = '{colour}'")
                size = image.size
                ActionChains(browser).move_to_element_with_offset(
                    image, (float(x) - 0.5) * size["width"],
                    (float(y) - 0.5) * size["height"]).click().perform()
                wait.until(lambda b: b.find_element(By.ID, "result").get_attribute(
                    "data-hints") == str(n))
            browser.execute_script("document.getElementById('slider').value = 50")
            Path(FLAGS.output).parent.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(FLAGS.output)
    finally:
        browser.quit()
        server.shutdown()
    logging.info("wrote %s", FLAGS.output)
    return 0


if __name__ == "__main__":
    cli.run(main)
