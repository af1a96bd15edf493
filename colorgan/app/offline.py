"""Imported before gradio (ui.py): the app talks to nothing but its own browsers.

Unless told not to, Gradio posts analytics and asks api.gradio.app for its latest version,
and huggingface_hub sends telemetry. An old-photo archive is private, and the app must work
with no network at all (tests/test_app_server.py starts it with outbound sockets refused).
"""

import os

# For the whole process (a notebook's kernel too): all three only stop reports.
SETTINGS = {"GRADIO_ANALYTICS_ENABLED": "False",  # analytics and the version check
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "DO_NOT_TRACK": "1"}
os.environ.update(SETTINGS)
