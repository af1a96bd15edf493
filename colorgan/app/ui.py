"""The web app's page: a Gradio Blocks over studio.Studio.

Photo tab: upload (or an example), automatic colour and the colour with your hints side by
side, hints by clicking on the photo's lightness (a colour picker, undo, clear), a colour
reference photo whose colours the photo takes where their content matches, the old-photo
toggles (restore, upscale, dust and scratches removed or kept) and the rendering options (how far a hint spreads among them), a
before/after slider and the full-size PNG to download. Video tab: a clip in, the colorized clip out, with a
progress bar, the temporal filter on or off, and optionally a colour keyframe or still that
steers the shots it matches.

API (gradio_client; the page's own events are private):
  /colorize        photo, restore, upscale, render_size, flip, chroma_smooth, chroma_gain,
                   model -> the full-size PNG
  /colorize_hints  photo, hints (colorize.py --hints' JSON), the same options, hint_spread
                   -> PNG
  /colorize_reference  photo, reference (a colour photo), hints ("[]": none), the same
                   options and hint_spread -> PNG
  /colorize_video  video, temporal, restore, model, reference (a colour keyframe or
                   still; None: automatic colour) -> the colorized clip
Every failure is one gr.Error line; the model events share one queue slot group
("model"), so the concurrency limit counts photos and videos together.
"""

from __future__ import annotations

import functools
import os

import colorgan.app.offline  # noqa: F401  first: its settings must precede gradio's import

import gradio as gr
from absl import logging
from PIL import Image

from colorgan import config
from colorgan.app import studio as studio_lib
from colorgan.errors import UserError, first_line

CANVAS_SIDE = 768  # the hint canvas (clicks are fractions of it, so any size works)
RENDER = config.RenderConfig()  # the option controls' defaults
CSS = "#canvas img { cursor: crosshair; }"
# The controls an export fixes (config.RenderConfig.post_processing), in controls()' order;
# the video tab's restore box last.
FIXED = ("flip", "chroma_smooth", "chroma_gain", "restore", "upscale", "hint_spread",
         "defects", "restore")


def one_line(fn):
    """A handler whose failures reach the page as one gr.Error line (and the app serves on)."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except UserError as e:
            raise gr.Error(first_line(e, 300), print_exception=False) from None
        except Exception as e:  # a bug: the trace goes to the log, not to the page (paths)
            logging.exception("app: %s failed", fn.__name__)
            raise gr.Error(f"colorizing failed ({type(e).__name__}; the server's log has the "
                           "details)", print_exception=False) from None
    return run


def upload_path(payload) -> str | None:
    """An image or video input's raw value -> its file in Gradio's upload folder.

    The events here skip Gradio's preprocessing, so that colorgan's decoder is the only one
    to read an upload. Gradio moves uploads into its folder and checks them there only when
    a payload is marked as a file: a client could send {"path": "/any/file"} unmarked, so a
    path outside the folder is refused here (the app would otherwise colorize any image the
    server can read, and say which files exist)."""
    if isinstance(payload, dict):
        payload = payload.get("path")
    if not payload:
        return None
    path = os.path.realpath(str(payload))
    folder = os.path.realpath(gr.utils.get_upload_folder())
    if os.path.commonpath([path, folder]) != folder:
        raise UserError("upload the file: only files uploaded to the app are read")
    return path


def uploaded_photo(payload) -> str:
    """upload_path for an event that needs the photo."""
    path = upload_path(payload)
    if not path:
        raise UserError("upload a photo first")
    return path


def rendering(restore, upscale, render_size, flip, chroma_smooth, chroma_gain,
              hint_spread=RENDER.hint_spread, defects=RENDER.defects):
    """The option controls -> config.RenderConfig (which checks them); `defects` counts
    only with `restore` (the page's radio stays as set while restore is off)."""
    try:
        return config.RenderConfig(render_size=int(render_size or 0), flip=bool(flip),
                                   chroma_smooth=float(chroma_smooth),
                                   chroma_gain=float(chroma_gain), restore=bool(restore),
                                   upscale=int(upscale), hint_spread=str(hint_spread),
                                   defects=str(defects) if restore else RENDER.defects)
    except (TypeError, ValueError) as e:
        raise UserError(f"rendering options: {first_line(e)}") from None


def controls(studio: studio_lib.Studio, name: str) -> list[dict]:
    """Updates of the FIXED controls for model `name`: an export's rendering is fixed, so
    they show its values, locked; otherwise the defaults, free."""
    fixed = studio.renderings(name).fixed
    values = fixed or RENDER.post_processing()
    return [gr.update(value=values[key], interactive=fixed is None) for key in FIXED]


def build(studio: studio_lib.Studio, examples: list[str] = (),
          settings: config.AppConfig = config.AppConfig()) -> gr.Blocks:
    """The app. `examples`: photo paths offered under the upload."""
    side = settings.display_side

    def shown(result: studio_lib.Result):
        """(auto or hinted pane, slider pair, download) for a result."""
        before, after = studio_lib.before_after(result.image, result.rgb, side)
        pane = str(result.png) if max(result.rgb.shape[:2]) <= side else after
        return pane, (before, after), gr.update(value=str(result.png), interactive=True)

    @one_line
    def on_photo(photo, reference, model, *options):
        path = upload_path(photo)
        if not path:  # cleared
            return None, "[]", None, None, None, gr.update(value=None, interactive=False)
        result = studio.colorize(path, "", rendering(*options), model)
        pane, pair, download = shown(result)
        if upload_path(reference):  # the right pane: the reference's colour
            try:
                canvas, _, guided, pair, download = hinted(path, "[]", reference, model,
                                                           options)
                return canvas, "[]", pane, guided, pair, download
            except UserError as e:  # a gray reference, a model without the encoder: say so,
                gr.Warning(first_line(e, 300))  # and show the automatic colour all the same
        return (studio_lib.hint_canvas(result.image, "[]", CANVAS_SIDE), "[]", pane, pane,
                pair, download)

    def hinted(path, hints_json, reference, model, options):
        result = studio.colorize(path, hints_json, rendering(*options), model,
                                 upload_path(reference))
        pane, pair, download = shown(result)
        return (studio_lib.hint_canvas(result.image, hints_json, CANVAS_SIDE), hints_json,
                pane, pair, download)

    @one_line
    def on_click(photo, canvas, hints_json, color, reference, model, evt: gr.SelectData,
                 *options):
        # Gradio passes the event at its place among the parameters: before *options.
        path, canvas_path = upload_path(photo), upload_path(canvas)
        if not path or not canvas_path:
            raise UserError("upload a photo first")
        if not studio.renderings(model).takes_hints:
            raise UserError("this model takes no hints (train one with --hints)")
        with Image.open(canvas_path) as shown_canvas:  # its header: the size it was drawn at
            w, h = shown_canvas.size
        x, y = evt.index[:2]  # pixels of the canvas image
        new = studio_lib.add_hint(hints_json, (x + 0.5) / w, (y + 0.5) / h, color)
        return hinted(path, new, reference, model, options)

    @one_line
    def on_undo(photo, hints_json, reference, model, *options):
        path = uploaded_photo(photo)
        return hinted(path, studio_lib.drop_last_hint(hints_json), reference, model, options)

    @one_line
    def on_clear(photo, hints_json, reference, model, *options):
        path = uploaded_photo(photo)
        return hinted(path, "[]", reference, model, options)

    @one_line
    def on_reference(photo, hints_json, reference, model, *options):
        if not upload_path(photo):  # a reference before the photo: used once it comes
            return gr.update(), hints_json, gr.update(), gr.update(), gr.update()
        return hinted(uploaded_photo(photo), hints_json, reference, model, options)

    @one_line
    def on_again(photo, hints_json, reference, model, *options):
        path = uploaded_photo(photo)
        auto = studio.colorize(path, "", rendering(*options), model)
        if not studio_lib.parse_hints(hints_json) and not upload_path(reference):
            return (shown(auto)[0], *shown(auto))  # the automatic colour is the result too
        return (shown(auto)[0],) + hinted(path, hints_json, reference, model, options)[2:]

    @one_line
    def on_model(model):
        return controls(studio, model)

    @one_line
    def api_colorize(photo, restore, upscale, render_size, flip, chroma_smooth, chroma_gain,
                     model):
        render = rendering(restore, upscale, render_size, flip, chroma_smooth, chroma_gain)
        return str(studio.colorize(upload_path(photo), "", render, model).png)

    @one_line
    def api_colorize_hints(photo, hints, restore, upscale, render_size, flip, chroma_smooth,
                           chroma_gain, model, hint_spread):
        render = rendering(restore, upscale, render_size, flip, chroma_smooth, chroma_gain,
                           hint_spread)
        return str(studio.colorize(upload_path(photo), hints, render, model).png)

    @one_line
    def api_colorize_reference(photo, reference, hints, restore, upscale, render_size, flip,
                               chroma_smooth, chroma_gain, model, hint_spread):
        render = rendering(restore, upscale, render_size, flip, chroma_smooth, chroma_gain,
                           hint_spread)
        if not upload_path(reference):
            raise UserError("upload a reference photo first")
        return str(studio.colorize(upload_path(photo), hints, render, model,
                                   upload_path(reference)).png)

    @one_line
    def colorize_video(video, temporal, restore, model, reference=None,
                       progress=gr.Progress()):
        progress(0, desc="colorizing")

        def report(done, total):
            progress((done, total or None), desc="colorizing", unit="frames")

        return str(studio.colorize_video(upload_path(video), bool(temporal), bool(restore),
                                         model, on_progress=report,
                                         reference=upload_path(reference)))

    with gr.Blocks(title="colorgan", analytics_enabled=False,
                   delete_cache=(600, 60 * settings.keep_minutes)) as demo:
        gr.Markdown("## colorgan: old photos and films in colour\n"
                    "Upload a photo (gray, or colour: only its lightness is used), then click "
                    "on its gray copy to ask for a colour there. Films: the Video tab.")
        model = gr.Dropdown(studio.names, value=studio.names[0], label="Model",
                            visible=len(studio.names) > 1, elem_id="model")
        with gr.Tab("Photo"):
            with gr.Row():
                photo = gr.Image(type="filepath", sources=["upload", "clipboard"],
                                 label="Your photo", elem_id="photo", height=420)
                hint_canvas = gr.Image(label="Click to add a colour hint", interactive=False,
                                       format="png", elem_id="canvas", height=420,
                                       buttons=[])
            with gr.Row():
                color = gr.ColorPicker("#e02020", label="Hint colour", elem_id="hint-color")
                undo = gr.Button("Undo last hint", elem_id="undo")
                clear = gr.Button("Clear hints", elem_id="clear")
                hints_box = gr.Textbox("[]", visible=False, elem_id="hints")
            with gr.Accordion("Colour from a reference photo", open=False):
                reference = gr.Image(type="filepath", sources=["upload", "clipboard"],
                                     label="A colour photo of a similar scene: the right "
                                     "pane takes its colours where the content matches "
                                     "(your hints win where they are)", elem_id="reference",
                                     height=240)
            with gr.Row():
                restore = gr.Checkbox(RENDER.restore, label="Restore the old photo first "
                                      "(grain, blur, fade, JPEG)", elem_id="restore")
                upscale = gr.Radio([1, 2, 4], value=RENDER.upscale, label="Upscale",
                                   elem_id="upscale")
                defects = gr.Radio(list(config.DEFECT_CHOICES), value=RENDER.defects,
                                   label="Dust and scratches (when restoring)",
                                   elem_id="defects")
            with gr.Accordion("Rendering", open=False):
                render_size = gr.Number(RENDER.render_size, precision=0, minimum=0,
                                        label="Render size (0: the model's own)")
                flip = gr.Checkbox(RENDER.flip, label="Average with the mirror image")
                chroma_smooth = gr.Slider(0, 0.25, value=RENDER.chroma_smooth, step=0.0025,
                                          label="Colour smoothing (guided-filter radius)")
                chroma_gain = gr.Slider(0.5, 2.0, value=RENDER.chroma_gain, step=0.01,
                                        label="Colour gain")
                hint_spread = gr.Radio(list(config.HINT_SPREADS), value=RENDER.hint_spread,
                                       label="How far a hint spreads (region: stops at "
                                       "edges; wide: a tint that hints elsewhere agree on "
                                       "also reaches through soft ones)",
                                       elem_id="hint-spread")
            again = gr.Button("Colorize again with these options", variant="primary",
                              elem_id="again")
            with gr.Row():
                auto = gr.Image(label="Automatic", format="png", interactive=False,
                                elem_id="auto")
                with_hints = gr.Image(label="With your hints (and reference)", format="png",
                                      interactive=False, elem_id="hinted")
            slider = gr.ImageSlider(label="Before / after", type="pil", format="png",
                                    interactive=False, elem_id="slider")
            download = gr.DownloadButton("Download the full-size PNG", interactive=False,
                                         elem_id="download")
            if examples:
                gr.Examples([[p] for p in examples], inputs=[photo], cache_examples=False,
                            label="Examples: the shipped validation photos")
        with gr.Tab("Video"):
            with gr.Row():
                video_in = gr.Video(sources=["upload"], format=None, include_audio=True,
                                    label="Your clip", elem_id="video-in")
                video_out = gr.Video(format=None, label="Colorized", interactive=False,
                                     elem_id="video-out")
            with gr.Row():
                temporal = gr.Checkbox(True, label="Steady colour (optical flow)",
                                       elem_id="temporal")
                video_restore = gr.Checkbox(False, label="Restore (old film)")
            with gr.Accordion("Colour from a keyframe or still", open=False,
                              elem_id="video-reference-box"):
                video_reference = gr.Image(type="filepath", sources=["upload", "clipboard"],
                                           label="A colour frame of the film, or a colour "
                                           "photo of the set: each shot takes its colours "
                                           "where its content matches",
                                           elem_id="video-reference", height=240)
            go = gr.Button("Colorize the clip", variant="primary", elem_id="go")

        options = [restore, upscale, render_size, flip, chroma_smooth, chroma_gain, hint_spread,
                   defects]
        busy = dict(concurrency_id="model", concurrency_limit=settings.concurrency,
                    preprocess=False, api_visibility="private")
        photo_out = [hint_canvas, hints_box, auto, with_hints, slider, download]
        hint_out = [hint_canvas, hints_box, with_hints, slider, download]
        photo.change(on_photo, [photo, reference, model, *options], photo_out, **busy)
        hint_canvas.select(on_click, [photo, hint_canvas, hints_box, color, reference, model,
                                      *options], hint_out, **busy)
        undo.click(on_undo, [photo, hints_box, reference, model, *options], hint_out, **busy)
        clear.click(on_clear, [photo, hints_box, reference, model, *options], hint_out, **busy)
        reference.change(on_reference, [photo, hints_box, reference, model, *options], hint_out,
                         **busy)
        again.click(on_again, [photo, hints_box, reference, model, *options],
                    [auto, with_hints, slider, download], **busy)
        fixed_controls = [flip, chroma_smooth, chroma_gain, restore, upscale, hint_spread,
                          defects, video_restore]
        model.change(on_model, [model], fixed_controls, api_visibility="private")
        demo.load(on_model, [model], fixed_controls, api_visibility="private")

        # The API: the same work, with clean signatures (hidden triggers).
        api_out = gr.Image(format="png", visible=False, label="colorized")
        api = dict(concurrency_id="model", concurrency_limit=settings.concurrency,
                   preprocess=False)
        settings_ = [*options[:6], model, hint_spread]
        gr.Button(visible=False).click(api_colorize, [photo, *options[:6], model], api_out,
                                       api_name="colorize", **api)
        gr.Button(visible=False).click(api_colorize_hints, [photo, hints_box, *settings_],
                                       api_out, api_name="colorize_hints", **api)
        gr.Button(visible=False).click(api_colorize_reference,
                                       [photo, reference, hints_box, *settings_], api_out,
                                       api_name="colorize_reference", **api)
        go.click(colorize_video, [video_in, temporal, video_restore, model, video_reference],
                 video_out,
                 api_name="colorize_video", **api)
    demo.queue(max_size=settings.max_queue, default_concurrency_limit=settings.concurrency)
    return demo

