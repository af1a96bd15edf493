"""The web app (python -m colorgan.app [--model=pretrained] [--port=7860] [--host=127.0.0.1]).

Upload a photo and see it colorized; with a hint model (train.py --hints), click points
on the photo, pick their colours, and see the result follow; download it. A
before/after slider compares the gray photo with the result. On Colab,
`colorgan.app.web.serve_in_colab()` shows it in the notebook.

Built on the standard library's HTTP server and one page of plain JavaScript: nothing
to install, and the same model loading as colorize.py (serve.opener.open_model). The page
posts {"image": base64 bytes, "hints": [{"x", "y", "color"}]} to /colorize and gets
{"image": "data:image/png;base64,..."} back (or {"error": "..."} with status 400).
"""

from __future__ import annotations

import base64
import io
import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import tensorflow as tf
from absl import flags, logging
from PIL import Image

from colorgan.data import imagefiles
from colorgan.errors import UserError
from colorgan.models import hints
from colorgan.serve import opener

MAX_UPLOAD = 40 << 20  # bytes of JSON (a ~30 MB photo in base64)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>colorgan</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
 .row { display: flex; gap: 1em; flex-wrap: wrap; align-items: flex-start; }
 figure { margin: 0; } figcaption { font-size: 0.9em; color: #555; margin-bottom: 0.3em; }
 #photo-wrap { position: relative; display: inline-block; cursor: crosshair; }
 #photo-wrap img, .pane img { max-width: 420px; max-height: 420px; display: block; }
 #photo, #before { filter: grayscale(1); }  /* what the model sees: the lightness */
 .dot { position: absolute; width: 12px; height: 12px; margin: -8px 0 0 -8px;
        border: 2px solid #fff; border-radius: 50%; box-shadow: 0 0 2px #000;
        pointer-events: none; }  /* a click on a dot still reaches the photo */
 #slider-wrap { position: relative; display: inline-block; }
 #slider-wrap img { max-width: 420px; max-height: 420px; display: block; }
 #before { position: absolute; top: 0; left: 0; clip-path: inset(0 50% 0 0); }
 #status { min-height: 1.4em; color: #555; } .error { color: #b00020; }
 button, input, a.button { font-size: 1em; margin-right: 0.5em; }
</style></head>
<body>
<h1>colorgan</h1>
<p>Upload a photo (gray, or colour: only its lightness is used). <span id="hint-help">Then click on it to ask for a
colour there: pick the colour first.</span></p>
<p><input type="file" id="upload" accept="image/*">
 <label id="color-label">hint colour <input type="color" id="color" value="#e02020"></label>
 <button id="undo">undo last hint</button> <button id="clear">clear hints</button>
 <a id="download" class="button" download="colorized.png" href="#" hidden>download</a></p>
<p id="status"></p>
<div class="row">
 <figure><figcaption>your photo: click to add a hint</figcaption>
  <div id="photo-wrap"><img id="photo" alt=""></div></figure>
 <figure class="pane"><figcaption>automatic</figcaption><img id="auto" alt=""></figure>
 <figure class="pane"><figcaption>with your hints</figcaption><img id="result" alt=""></figure>
</div>
<h2>Before / after</h2>
<div id="slider-wrap"><img id="after" alt=""><img id="before" alt=""></div><br>
<input type="range" id="slider" min="0" max="100" value="50" style="width: 420px">
<script>
const TAKES_HINTS = __TAKES_HINTS__;
let photoB64 = null, hints = [], busy = 0, pending = false, upload = 0;
const $ = (id) => document.getElementById(id);
if (!TAKES_HINTS) {
  $("hint-help").textContent = "This model takes no hints (train one with --hints).";
  for (const id of ["color-label", "undo", "clear"]) $(id).hidden = true;
}
function status(text, error) { $("status").textContent = text;
  $("status").className = error ? "error" : ""; }
async function colorize(withHints) {
  const response = await fetch("colorize", {method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({image: photoB64, hints: withHints ? hints : []})});
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body.image;
}
async function update() {
  if (busy) { pending = true; return; }
  busy = 1; status("colorizing...");
  const mine = upload, count = hints.length;
  try {
    const url = await colorize(true);
    if (mine !== upload) return;  // a newer photo came meanwhile
    $("result").src = url; $("after").src = url; $("download").href = url;
    $("download").hidden = false;
    $("result").dataset.hints = String(count);
    status(count ? count + " hint(s)" : "done");
  } catch (e) { status(e.message, true); }
  finally { busy = 0; }
  if (pending) { pending = false; update(); }
}
function drawDots() {
  document.querySelectorAll(".dot").forEach((d) => d.remove());
  for (const h of hints) {
    const dot = document.createElement("div");
    dot.className = "dot"; dot.style.background = h.color;
    dot.style.left = (100 * h.x) + "%"; dot.style.top = (100 * h.y) + "%";
    $("photo-wrap").appendChild(dot);
  }
}
$("upload").addEventListener("change", () => {
  const file = $("upload").files[0]; if (!file) return;
  const reader = new FileReader();
  const mine = ++upload;
  reader.onload = async () => {
    const dataUrl = reader.result;
    photoB64 = dataUrl.slice(dataUrl.indexOf(",") + 1);
    hints = []; drawDots();
    $("photo").src = dataUrl; $("before").src = dataUrl;
    status("colorizing...");
    try {
      const url = await colorize(false);
      if (mine !== upload) return;  // a newer photo came meanwhile
      $("auto").src = url; $("auto").dataset.ready = "1";
      if (!hints.length) {  // hints clicked meanwhile: their result stands
        $("result").src = url; $("after").src = url; $("download").href = url;
        $("result").dataset.hints = "0";
      }
      $("download").hidden = false;
      status("done");
    } catch (e) { status(e.message, true); }
  };
  reader.readAsDataURL(file);
});
$("photo").addEventListener("click", (event) => {
  if (!TAKES_HINTS || !photoB64) return;
  const box = $("photo").getBoundingClientRect();
  hints.push({x: (event.clientX - box.left) / box.width,
              y: (event.clientY - box.top) / box.height, color: $("color").value});
  drawDots(); update();
});
$("undo").addEventListener("click", () => { hints.pop(); drawDots(); if (photoB64) update(); });
$("clear").addEventListener("click", () => { hints = []; drawDots(); if (photoB64) update(); });
$("slider").addEventListener("input", () => {
  $("before").style.clipPath = "inset(0 " + (100 - $("slider").value) + "% 0 0)"; });
</script></body></html>
"""


class App:
    """The model behind the page: bytes + hints -> PNG. One request at a time."""

    def __init__(self, model, render_size: int = 0):
        self.model, self.render_size = model, render_size
        self.takes_hints = bool(getattr(model, "takes_hints", False))
        self._lock = threading.Lock()

    def colorize(self, encoded: bytes, points: list) -> bytes:
        """Image file bytes and [(x, y, (r, g, b))] -> PNG bytes (UserError for bad input)."""
        if points and not self.takes_hints:
            raise UserError("this model takes no hints (train one with --hints)")
        try:
            image = imagefiles.decode_bytes(encoded)
        except tf.errors.InvalidArgumentError as e:
            raise UserError(f"not a readable image ({e.message.splitlines()[0][:200]})") from None
        with self._lock:
            if points:
                rgb = self.model.with_points(image[None], self.render_size, points)[0]
            else:
                rgb = self.model(image[None], self.render_size)[0]
        buf = io.BytesIO()
        Image.fromarray(np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)).save(buf, "PNG")
        return buf.getvalue()

    def page(self) -> bytes:
        return PAGE.replace("__TAKES_HINTS__", json.dumps(self.takes_hints)).encode()


def _handler(app: App):
    class Handler(BaseHTTPRequestHandler):
        timeout = 60  # seconds a connection may sit idle: a short body does not hold a thread

        def log_message(self, fmt, *args):  # absl's log, not stderr lines per request
            logging.debug("app: " + fmt, *args)

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, value: dict) -> None:
            self._send(status, json.dumps(value).encode(), "application/json")

        def do_GET(self):
            if self.path in ("/", "/index.html"):
                self._send(HTTPStatus.OK, app.page(), "text/html; charset=utf-8")
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})

        def do_POST(self):
            if self.path != "/colorize":
                return self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_UPLOAD:
                return self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE if length > 0 else
                                  HTTPStatus.BAD_REQUEST,
                                  {"error": f"a body of 0 to {MAX_UPLOAD >> 20} MB, please"})
            try:
                request = json.loads(self.rfile.read(length))
                encoded = base64.b64decode(request["image"], validate=True)
                points = hints.parse_points(request.get("hints") or [], "request")
                png = app.colorize(encoded, points)
            except UserError as e:
                return self._json(HTTPStatus.BAD_REQUEST, {"error": str(e)})
            except (ValueError, KeyError, TypeError, RecursionError) as e:
                return self._json(HTTPStatus.BAD_REQUEST, {"error": f"bad request ({e})"})
            except Exception as e:  # the model failed: say so rather than drop the connection
                logging.exception("app: /colorize failed")
                return self._json(HTTPStatus.INTERNAL_SERVER_ERROR,
                                  {"error": f"colorizing failed ({type(e).__name__})"})
            self._json(HTTPStatus.OK, {
                "image": "data:image/png;base64," + base64.b64encode(png).decode()})

    return Handler


def make_server(model, host: str = "127.0.0.1", port: int = 7860,
                render_size: int = 0) -> ThreadingHTTPServer:
    """The app's HTTP server (port 0: any free port; server.server_address says which)."""
    server = ThreadingHTTPServer((host, port), _handler(App(model, render_size)))
    server.daemon_threads = True
    return server


def serve_in_colab(model: str = "pretrained", port: int = 7860) -> ThreadingHTTPServer:
    """Starts the app in a background thread and shows it in the notebook (Colab only)."""
    server = make_server(opener.open_model(model), "127.0.0.1", port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    from google.colab import output  # only on Colab: its proxy from the notebook to the kernel's port
    output.serve_kernel_port_as_iframe(server.server_address[1], height=900)
    return server


def main(argv):
    """python -m colorgan.app (app/__main__.py defines the flags)."""
    FLAGS = flags.FLAGS
    if len(argv) > 1:
        raise flags.Error(f"unexpected arguments: {argv[1:]}")
    model = opener.open_model(FLAGS.model, render_size=FLAGS.render_size)
    server = make_server(model, FLAGS.host, FLAGS.port, FLAGS.render_size)
    host, port = server.server_address[:2]
    logging.info("colorgan app at http://%s:%d/ (Ctrl-C stops it)%s", host, port,
                 "" if getattr(model, "takes_hints", False) else "; this model takes no hints")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0

