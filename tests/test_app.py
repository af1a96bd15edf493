"""colorgan/app/web.py: the HTTP API, and the page in a real headless Chromium (Selenium)."""

import base64
import io
import json
import shutil
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorgan.app import web
from colorgan.video import clips


class HintStub:
    """A stand-in hint model for the app's wiring (the hint model itself is tested in
    test_hints): a warm tint, and around each hint point its colour."""

    takes_hints = True

    def __call__(self, images, render_size=0):
        return np.clip(images[..., :3] * np.array([1.0, 0.9, 0.8], np.float32), 0, 1)

    def with_points(self, images, render_size, points):
        out = self(images)
        h, w = out.shape[1:3]
        yy, xx = np.mgrid[0:h, 0:w]
        for x, y, rgb in points:
            near = (yy - y * h) ** 2 + (xx - x * w) ** 2 <= (0.08 * min(h, w)) ** 2
            out[0][near] = rgb
        return out


@pytest.fixture
def server():
    def start(model):
        srv = web.make_server(model, port=0)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}/"

    servers = []
    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def png_bytes(array):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def post(url, body):
    request = urllib.request.Request(url + "colorize", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def decode(data_url):
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))))


def test_the_api_colorizes_and_refuses_bad_requests(server):
    url = server(HintStub())
    photo = clips.sample_photo(2)[:48, :64]
    image = base64.b64encode(png_bytes(photo)).decode()
    status, body = post(url, {"image": image})
    assert status == 200
    np.testing.assert_allclose(decode(body["image"]) / 255, HintStub()(photo / 255), atol=1 / 255)
    status, body = post(url, {"image": image, "hints": [{"x": 0.5, "y": 0.5, "color": "#00ff00"}]})
    assert status == 200 and tuple(decode(body["image"])[24, 32]) == (0, 255, 0)
    for bad, words in (({"image": "!!"}, "bad request"),
                       ({"image": base64.b64encode(b"not an image").decode()}, "not a readable image"),
                       ({"image": image, "hints": [{"x": 3, "y": 0, "color": "#fff"}]}, "x and y")):
        status, body = post(url, bad)
        assert status == 400 and words in body["error"], body
    many = [{"x": 0.5, "y": 0.5, "color": "#fff"}] * 257
    status, body = post(url, {"image": image, "hints": many})
    assert status == 400 and "at most 256" in body["error"]
    with urllib.request.urlopen(url) as response:
        assert b"<title>colorgan</title>" in response.read()
    import http.client
    host, port = url.split("//")[1].rstrip("/").split(":")
    for length in ("-1", "lots"):  # never read "until the client closes"
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.putrequest("POST", "/colorize")
        conn.putheader("Content-Length", length)
        conn.endheaders()
        assert conn.getresponse().status == 400
        conn.close()


class Broken(HintStub):
    def __call__(self, images, render_size=0):
        raise RuntimeError("out of memory")


def test_a_failing_model_is_a_500_not_a_dropped_connection(server):
    url = server(Broken())
    photo = base64.b64encode(png_bytes(clips.sample_photo(2)[:48, :64])).decode()
    status, body = post(url, {"image": photo})
    assert status == 500 and body["error"] == "colorizing failed (RuntimeError)"


def test_a_model_without_hints_says_so(server, plain_export):
    from colorgan.serve import opener
    url = server(opener.open_model(plain_export))
    photo = base64.b64encode(png_bytes(clips.sample_photo(2)[:48, :64])).decode()
    status, body = post(url, {"image": photo, "hints": [{"x": 0.5, "y": 0.5, "color": "#f00"}]})
    assert status == 400 and "takes no hints" in body["error"]
    assert post(url, {"image": photo})[0] == 200


def chromium():
    """A headless Chromium driven by Selenium, or a skip where they are absent (.ci/run
    installs Debian's chromium and chromium-driver, so CI runs it)."""
    webdriver = pytest.importorskip("selenium.webdriver")
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not binary or not driver:
        pytest.skip("chromium / chromedriver not installed (apt-get install chromium "
                    "chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1400,1100"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(driver))


def test_in_a_browser_a_red_hint_makes_that_spot_redder(server, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from colorgan.serve import opener
    url = server(opener.open_model("pretrained"))  # the shipped hint model
    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes(clips.sample_photo(2)[:96, :128]))
    browser = chromium()
    try:
        browser.get(url)
        wait = WebDriverWait(browser, 60)
        browser.find_element(By.ID, "upload").send_keys(str(photo))
        wait.until(lambda b: b.find_element(By.ID, "auto").get_attribute("data-ready") == "1")
        browser.execute_script("document.getElementById('color').value = '#e02020'")
        image = browser.find_element(By.ID, "photo")
        ActionChains(browser).move_to_element_with_offset(image, 0, 0).click().perform()  # centre
        wait.until(lambda b: b.find_element(By.ID, "result").get_attribute("data-hints") == "1")
        auto = decode(browser.find_element(By.ID, "auto").get_attribute("src")).astype(int)
        hinted = decode(browser.find_element(By.ID, "result").get_attribute("src")).astype(int)
        redness = lambda a: a[44:52, 60:68, 0] - a[44:52, 60:68, 1:].mean(-1)  # noqa: E731
        assert redness(hinted).mean() > redness(auto).mean() + 50
        assert browser.find_element(By.ID, "download").get_attribute("href").startswith("data:image/png")
        assert len(browser.find_elements(By.CLASS_NAME, "dot")) == 1
        browser.save_screenshot(str(tmp_path / "app.png"))
        assert Path(tmp_path / "app.png").stat().st_size > 0
    finally:
        browser.quit()
