"""The web app's page driven in headless Chromium (Selenium), as a user clicks it: the
browser test (tests/test_app_server.py) and scripts/app_screenshot.py.

Needs Debian's chromium and chromium-driver and selenium (the [test] extra); selenium is
imported inside the functions, so that `available()` can say it is missing. The elements
are found by the elem_ids colorgan/app/ui.py gives them.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
import shutil
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

# Headless, as root in a container, and quiet: without the background-networking flags
# Chromium phones Google at start (component updates, safe browsing), which an offline
# machine refuses, and which the offline check would count against the app.
FLAGS = ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-quic")


def available() -> str:
    """"" when chromium, chromedriver and selenium are here, else what is missing."""
    missing = [name for name in ("chromium", "chromedriver") if not shutil.which(name)]
    if importlib.util.find_spec("selenium") is None:  # the [test] extra
        missing.append("selenium")
    return ", ".join(missing)


def chromium(downloads: Path | None = None, window: tuple[int, int] = (1400, 1800)):
    """A headless Chromium logging its network requests; files it downloads go to
    `downloads`."""
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in FLAGS + (f"--window-size={window[0]},{window[1]}",):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    if downloads is not None:
        options.add_experimental_option("prefs", {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False})
    return webdriver.Chrome(options=options,
                            service=webdriver.ChromeService(shutil.which("chromedriver")))


class Page:
    """The app at `url` in `browser`. Each action waits for the page's answer."""

    def __init__(self, browser, url: str, timeout: float = 180):
        from selenium.webdriver.support.ui import WebDriverWait

        self.browser, self.url = browser, url
        self.wait = WebDriverWait(browser, timeout)
        browser.get(url)
        self.wait.until(lambda b: b.find_elements("css selector", "#photo input[type=file]"))

    def _css(self, selector: str):
        return self.browser.find_element("css selector", selector)

    def src(self, elem_id: str) -> str:
        """The URL of the image an element shows ("" while none)."""
        found = self.browser.find_elements("css selector", f"#{elem_id} img")
        return (found[0].get_attribute("src") or "") if found else ""

    def _wait_new(self, elem_id: str, before: str) -> str:
        self.wait.until(lambda b: self.src(elem_id) not in ("", before) or self.error())
        if self.error():
            raise AssertionError(f"the page says: {self.error()}")
        return self.src(elem_id)

    def error(self) -> str:
        """The text of an error toast on the page ("" when none)."""
        toasts = self.browser.find_elements("css selector", ".toast-body.error, .toast-body")
        texts = [t.text for t in toasts if "error" in (t.get_attribute("class") or "")]
        return " ".join(t for t in texts if t).strip()

    def upload_photo(self, path: Path) -> None:
        """Uploads a photo and waits for its automatic colour."""
        before = self.src("auto")
        self._css("#photo input[type=file]").send_keys(str(Path(path).resolve()))
        self._wait_new("auto", before)
        self.wait.until(lambda b: self.src("hinted") and self.src("canvas"))

    def set_colour(self, hex_colour: str) -> None:
        """Types a colour into the hint colour picker's hex field."""
        from selenium.webdriver.common.keys import Keys

        self._css("#hint-color .dialog-button").click()
        field = self.wait.until(lambda b: b.find_element("css selector",
                                                         "#hint-color input[type=text]"))
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(hex_colour, Keys.ENTER)
        self._css("#hint-color .dialog-button").click()  # closes the picker
        self.wait.until(lambda b: not b.find_elements("css selector", "#hint-color .color-picker"))
        rgb = tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
        self.wait.until(lambda b: f"rgb({rgb[0]}, {rgb[1]}, {rgb[2]})" in (
            b.find_element("css selector", "#hint-color .dialog-button")
            .get_attribute("style") or ""))

    def click_canvas(self, x: float, y: float) -> None:
        """Clicks the hint canvas at (x, y), fractions of its width and height from the top
        left, and waits for the hinted result."""
        from selenium.webdriver.common.action_chains import ActionChains

        image = self._css("#canvas img")
        # The picture inside the img box, as Gradio maps clicks (object-fit: scale-down).
        box_w, box_h, nat_w, nat_h = self.browser.execute_script(
            "const i = arguments[0], r = i.getBoundingClientRect();"
            "return [r.width, r.height, i.naturalWidth, i.naturalHeight];", image)
        scale = min(box_w / nat_w, box_h / nat_h, 1)
        before = self.src("hinted")
        ActionChains(self.browser).move_to_element_with_offset(
            image, round((x - 0.5) * nat_w * scale), round((y - 0.5) * nat_h * scale)
        ).click().perform()
        self._wait_new("hinted", before)

    def undo(self) -> None:
        """Undoes the last hint and waits for the result without it."""
        before = self.src("hinted")
        self._css("#undo").click()
        self._wait_new("hinted", before)

    def image(self, elem_id: str) -> np.ndarray:
        """The image an element shows, fetched as the browser did: uint8 [H, W, 3]."""
        return fetch(self.src(elem_id))

    def slider(self) -> tuple[np.ndarray, np.ndarray, float]:
        """(before, after, where the split is: the share of the width showing before)."""
        images = self.browser.find_elements("css selector", "#slider img")
        before, after = (fetch(i.get_attribute("src")) for i in images[:2])
        return before, after, self.slider_split()

    def slider_split(self) -> float:
        style = self.browser.find_elements("css selector", "#slider img")[1].get_attribute("style")
        found = re.search(r"inset\(\s*0(?:px)?\s+0(?:px)?\s+0(?:px)?\s+([\d.]+)%", style or "")
        return float(found.group(1)) / 100 if found else float("nan")

    def drag_slider(self, dx: int) -> None:
        from selenium.webdriver.common.action_chains import ActionChains

        handle = self._css("#slider [data-testid=slider]")
        ActionChains(self.browser).click_and_hold(handle).move_by_offset(dx, 0).release().perform()

    def download(self, folder: Path, timeout: float = 60) -> Path:
        """Clicks the download button; the file it saved into `folder` (the browser's
        download folder)."""
        before = set(folder.iterdir())
        self._css("#download").click()
        end = time.time() + timeout
        while time.time() < end:
            # Chromium writes into .com.google.Chrome.XXXX or NAME.crdownload, then renames.
            new = [p for p in set(folder.iterdir()) - before
                   if not p.name.endswith(".crdownload") and not p.name.startswith(".")]
            if new:
                return new[0]
            time.sleep(0.2)
        raise AssertionError("nothing was downloaded")

    def colorize_video(self, path: Path, reference: Path | None = None) -> str:
        """The Video tab: uploads a clip (and a colour keyframe or still, if given),
        colorizes it, returns the result's URL."""
        self.browser.find_element("xpath", "//button[@role='tab' and contains(., 'Video')]").click()
        self.wait.until(lambda b: b.find_elements("css selector", "#video-in input[type=file]"))
        self._css("#video-in input[type=file]").send_keys(str(Path(path).resolve()))
        self.wait.until(lambda b: b.find_elements("css selector", "#video-in video"))
        if reference is not None:  # its accordion opens first
            self._css("#video-reference-box > button").click()
            self.wait.until(lambda b: b.find_elements(
                "css selector", "#video-reference input[type=file]"))
            self._css("#video-reference input[type=file]").send_keys(
                str(Path(reference).resolve()))
            self.wait.until(lambda b: b.find_elements("css selector", "#video-reference img"))
        self._css("#go").click()
        self.wait.until(lambda b: b.find_elements("css selector", "#video-out video[src]")
                        or self.error())
        if self.error():
            raise AssertionError(f"the page says: {self.error()}")
        return self._css("#video-out video").get_attribute("src")

    def requested(self) -> list[str]:
        """Every URL the page asked for so far (Chromium's performance log)."""
        urls = []
        for entry in self.browser.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
        return urls


def fetch(url: str) -> np.ndarray:
    """An image URL of the app -> uint8 [H, W, 3]."""
    with urllib.request.urlopen(url, timeout=60) as response:
        return np.asarray(Image.open(io.BytesIO(response.read())).convert("RGB"))
