"""Serving the app: python -m colorgan.app, the Colab notebook and a Hugging Face Space
all launch it here, with the same limits and the same privacy.

- A theme with the system's fonts: nothing is fetched from a font CDN (Gradio's default
  theme ships its fonts, but system fonts make no request at all).
- No analytics, telemetry or update check (offline.py), no monitoring page, no run history
  kept in the browser, no SSR (it needs Node 24), no MCP server.
- The queue and upload limits come from config.AppConfig.
"""

from __future__ import annotations

import socket

import colorgan.app.offline  # noqa: F401  first: its settings must precede gradio's import

import gradio as gr

from colorgan import config
from colorgan.app import studio as studio_lib
from colorgan.app import ui
from colorgan.data import folders

EXAMPLES = 8  # shipped validation photos offered as examples


def theme() -> gr.themes.Base:
    return gr.themes.Default(font=["system-ui", "Segoe UI", "Roboto", "sans-serif"],
                             font_mono=["ui-monospace", "Menlo", "Consolas", "monospace"])


def examples() -> list[str]:
    return folders.list_image_files(folders.SAMPLES_DIR / "val")[:EXAMPLES]


def make_app(models: dict[str, str], restorer: str = "",
             settings: config.AppConfig = config.AppConfig()) -> gr.Blocks:
    """The Blocks for `models` (name -> path, the first the default)."""
    return ui.build(studio_lib.Studio(models, restorer, settings), examples(), settings)


def free_port(host: str) -> int:
    """A port the OS says is free now (--port=0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def launch(demo: gr.Blocks, settings: config.AppConfig = config.AppConfig(), *,
           inline: bool | None = None, block: bool = True, quiet: bool = False) -> str:
    """Serves `demo`; returns its local URL (block=False: at once, serving on in threads)."""
    port = settings.port or free_port(settings.host)
    demo.launch(server_name=settings.host, server_port=port, share=settings.share,
                inline=inline, prevent_thread_lock=not block, quiet=quiet,
                max_file_size=f"{settings.max_upload_mb}mb", show_error=True,
                footer_links=["api", "settings"], run_history=False, enable_monitoring=False,
                ssr_mode=False, pwa=False, mcp_server=False, theme=theme(), css=ui.CSS)
    return demo.local_url


def model_choices(model: str) -> dict[str, str]:
    """The shipped model, and the launch's --model when it is another."""
    shipped = {"shipped (colorgan)": studio_lib.SHIPPED}
    return shipped if model in ("", studio_lib.SHIPPED) else {model: model, **shipped}
