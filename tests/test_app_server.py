"""The web app as people run it: `python -m colorgan.app` with the shipped model, in its own
process with every outbound socket refused (tests/socket_guard), driven through its API
(gradio_client), under load, and in a real headless Chromium.

One app serves the whole module (starting it costs ~20 s), so the module runs on one xdist
worker (`make test` runs --dist loadscope; it is an xdist group too) and its tests run in
this order.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import imagefiles as F  # tests/imagefiles.py
import app_browser as browser  # tests/app_browser.py
from colorgan.video import clips, container

pytestmark = pytest.mark.xdist_group("app_server")
HERE = Path(__file__).parent
MAX_UPLOAD_MB = 2


class Served:
    def __init__(self, url, proc, guard_log, log):
        self.url, self.proc, self.guard_log, self.log = url, proc, guard_log, log

    def client(self):
        from gradio_client import Client
        return Client(self.url, verbose=False)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("app")
    with socket.socket() as s:  # the OS's free port; the app binds it a moment later
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    guard_log, log = tmp / "socket_guard.log", tmp / "app.log"
    env = {**os.environ, "COLORGAN_SOCKET_GUARD": str(guard_log), "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join([str(HERE / "socket_guard"),
                                          os.environ.get("PYTHONPATH", "")]),
           "GRADIO_TEMP_DIR": str(tmp / "gradio")}
    env.pop("HF_HUB_OFFLINE", None)  # the app must say it itself
    proc = subprocess.Popen([sys.executable, "-m", "colorgan.app", f"--port={port}",
                             f"--max_upload_mb={MAX_UPLOAD_MB}"],
                            env=env, cwd=tmp, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 240
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"the app did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    yield Served(url, proc, guard_log, log)
    proc.terminate()
    proc.wait(30)


def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


HINTS = [{"x": 0.5, "y": 0.5, "color": "#e02020"}, {"x": 0.2, "y": 0.8, "color": "#2050e0"}]


def test_the_api_gives_the_pixels_colorize_py_gives(app, tmp_path):
    from gradio_client import handle_file

    from colorgan.models import hints
    from colorgan.archive import files
    from colorgan.serve import opener

    photo = tmp_path / "photo.png"
    photo.write_bytes(F.encode(clips.sample_photo(2)[:64, :96], "PNG"))
    (tmp_path / "hints.json").write_text(json.dumps(HINTS))
    client = app.client()
    defaults = dict(restore=False, upscale=1, render_size=0, flip=True, chroma_smooth=0.0625,
                    chroma_gain=1.11)
    cases = [  # (API call, colorize.py's flags as opener/files arguments)
        ("/colorize", {}, {}, None),
        ("/colorize_hints", {"hints": json.dumps(HINTS)}, {}, tmp_path / "hints.json"),
        ("/colorize", {"restore": True, "upscale": 2}, {"restore": True, "upscale": 2}, None),
    ]
    for api, extra, post, hints_file in cases:
        got = client.predict(handle_file(str(photo)), **{**defaults, **extra}, api_name=api)
        # What colorize.py does with --restore / --upscale / --hints (its library calls).
        model = opener.open_model("pretrained", post)
        out = tmp_path / api.strip("/") / str(len(post))
        report = files.colorize_files(model, [str(photo)], out, points=hints.read_points(
            hints_file) if hints_file else None)
        expected = pixels(report.written[0])
        assert pixels(got).shape == expected.shape == (64 * (1 + bool(post)), 96 * (1 + bool(post)), 3)
        np.testing.assert_array_equal(pixels(got), expected, err_msg=api + str(extra))


def test_bad_requests_are_one_line_errors(app, tmp_path):
    from gradio_client import handle_file

    import httpx

    client = app.client()
    photo = tmp_path / "photo.png"
    photo.write_bytes(F.encode(clips.sample_photo(1)[:40, :40], "PNG"))
    cases = [("/colorize_hints", {"hints": "{"}, "not JSON"),
             ("/colorize_hints", {"hints": json.dumps([{"x": 5, "y": 0, "color": "#f00"}])},
              "x and y"),
             ("/colorize_hints", {"hints": json.dumps(HINTS * 129)}, "at most 256"),
             ("/colorize", {"chroma_gain": 0}, "chroma_gain=0"),
             ("/colorize", {"render_size": 4096}, "render_size=4096: at most 1024"),
             ("/colorize", {"chroma_gain": "lots"}, "rendering options")]
    for api, extra, words in cases:
        with pytest.raises(Exception) as e:
            client.predict(handle_file(str(photo)), **extra, api_name=api)
        message = str(e.value).strip()
        assert words in message and "\n" not in message, (api, extra, message)
    # Over --max_upload_mb: the upload itself is refused, before any handler runs.
    big = F.encode(np.random.default_rng(0).integers(0, 256, (900, 900, 3), np.uint8), "PNG")
    assert len(big) > MAX_UPLOAD_MB << 20
    refused = httpx.post(app.url + "gradio_api/upload", files={"files": ("big.png", big)},
                         timeout=60)
    assert refused.status_code == 413, refused.text
    # A path the client did not upload (a file on the server) is not read.
    on_server = sorted((Path(__file__).parents[1] / "colorgan" / "samples" / "val").glob("*.jpg"))[0]
    started = httpx.post(app.url + "gradio_api/call/colorize",
                         json={"data": [{"path": str(on_server)}, False, 1, 0, True, 0.0625,
                                        1.11, "shipped (colorgan)"]}, timeout=60).json()
    answer = httpx.get(f"{app.url}gradio_api/call/colorize/{started['event_id']}", timeout=120).text
    assert "event: error" in answer and "only files uploaded to the app" in answer, answer


def test_under_load_good_photos_come_back_right_and_bad_ones_are_refused(app):
    run = subprocess.run([sys.executable, str(HERE / "app_load.py"), app.url, "40", "8",
                          str(app.proc.pid)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    print("app load:", json.dumps(report))  # the figures for the notes (pytest -s)
    assert report["answered"] == report["good"] == 20, report  # counted from the answers
    assert report["refused"] == report["bad"] == 20, report
    assert report["wrong"] == [] and report["unrefused"] == [], report
    assert report["still_serving"]


def test_a_clip_through_the_api_reports_its_progress(app, tmp_path):
    from gradio_client import handle_file

    frames = clips.two_shots((64, 48), 12)[0]
    clips.write(tmp_path / "clip.mp4", frames)
    job = app.client().submit(handle_file(str(tmp_path / "clip.mp4")), temporal=True,
                              api_name="/colorize_video")
    seen = set()
    while not job.done():
        for unit in job.status().progress_data or []:
            seen.add((unit.index, unit.length, unit.unit))
        time.sleep(0.01)
    assert container.probe(job.result()).frames == len(frames)
    counted = {(i, n) for i, n, unit in seen if unit == "frames"}
    assert counted and all(n == len(frames) and 0 <= i <= n for i, n in counted), seen
    # The same clip steered by a colour still of its first shot (the API's `reference`;
    # temporal off, so each frame is the model's alone): the first shot takes its colours.
    clips.write(tmp_path / "short.mp4", clips.two_shots((64, 48), 3)[0])
    still = tmp_path / "still.png"
    Image.fromarray(np.ascontiguousarray(clips.stills((64, 48))[0])).save(still)
    client = app.client()
    auto, steered = (np.concatenate(list(container.read_frames(client.predict(
        handle_file(str(tmp_path / "short.mp4")), temporal=False, api_name="/colorize_video",
        **extra)))).astype(float) for extra in ({}, {"reference": handle_file(str(still))}))
    took = np.abs(steered[:3] - auto[:3]).mean()
    assert took > 3, took


def test_in_a_browser_hints_slider_download_undo_and_a_video(app, tmp_path):
    missing = browser.available()
    if missing:
        pytest.skip(f"{missing} not installed (apt-get install chromium chromium-driver)")
    photo = tmp_path / "photo.png"
    Image.fromarray(clips.sample_photo(2)[:96, :128]).save(photo)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = browser.chromium(downloads)
    try:
        page = browser.Page(driver, app.url)
        page.upload_photo(photo)
        auto = page.image("auto").astype(int)
        assert auto.shape == (96, 128, 3)
        page.click_canvas(0.5, 0.5)  # the default hint colour: red
        hinted = page.image("hinted").astype(int)
        redness = lambda a: (a[44:52, 60:68, 0] - a[44:52, 60:68, 1:].mean(-1)).mean()  # noqa: E731
        print(f"redness at the hint: automatic {redness(auto):.1f}, hinted {redness(hinted):.1f}")
        assert redness(hinted) > redness(auto) + 50, (redness(hinted), redness(auto))
        canvas = page.image("canvas")  # one red dot, at the centre
        h, w = canvas.shape[:2]
        assert tuple(canvas[h // 2, w // 2]) == (0xE0, 0x20, 0x20)

        before, after, split = page.slider()
        assert before.shape == after.shape == hinted.shape
        assert (before[..., 0] == before[..., 2]).all()  # the gray input...
        np.testing.assert_array_equal(after, hinted)  # ...and the result
        page.drag_slider(-100)
        assert page.slider_split() < split - 0.05, (page.slider_split(), split)

        saved = page.download(downloads)
        assert saved.suffix == ".png"
        np.testing.assert_array_equal(pixels(saved), hinted)  # the full-size PNG

        page.undo()  # no hints left: the automatic colour, bit for bit, and no dot
        np.testing.assert_array_equal(page.image("hinted"), auto)
        canvas = page.image("canvas")
        assert (canvas[..., 0] == canvas[..., 1]).all()

        clip = tmp_path / "clip.mp4"
        frames = clips.two_shots((64, 48), 6)[0]
        clips.write(clip, frames)
        colorized = tmp_path / "colorized.mp4"
        with urllib.request.urlopen(page.colorize_video(clip), timeout=60) as response:
            colorized.write_bytes(response.read())
        assert container.probe(colorized).frames == len(frames)

        # Offline: the page asked for nothing but the app itself (and inline data).
        elsewhere = [u for u in page.requested()
                     if not u.startswith((app.url, "data:", "blob:"))]
        assert elsewhere == []
    finally:
        driver.quit()


def test_offline_the_app_served_all_of_this_without_one_outbound_connection(app):
    lines = app.guard_log.read_text().splitlines()
    assert lines[0] == f"armed {app.proc.pid}"
    assert [line for line in lines if line.startswith("refused")] == []
    with urllib.request.urlopen(app.url, timeout=10) as response:  # still serving
        assert response.status == 200
    # The guard itself refuses: the same start-up, then a connection off the machine.
    probe = app.guard_log.with_name("probe.log")
    env = {**os.environ, "COLORGAN_SOCKET_GUARD": str(probe),
           "PYTHONPATH": str(HERE / "socket_guard")}
    code = ("import socket, urllib.request\n"
            "for go in (lambda: socket.socket().connect(('192.0.2.1', 80)),\n"
            "           lambda: urllib.request.urlopen('http://example.com/', timeout=2)):\n"
            "    try: go(); print('connected')\n"
            "    except OSError as e: print('refused')\n")
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60)
    assert run.stdout.split() == ["refused", "refused"]
    assert [line.split()[:2] for line in probe.read_text().splitlines()[1:]] == [
        ["refused", "connect"], ["refused", "getaddrinfo"]]
