"""A folder that is a Hugging Face Space serving the web app: push it and the Space runs.

  python scripts/make_space.py --output_dir=runs/space

Writes app.py (the Space's entry: the app of colorgan/app/server.py on 0.0.0.0:7860, the
shipped model), requirements.txt (colorgan's runtime requirements with tensorflow-cpu and
gradio, from pyproject.toml), README.md (the Space's card: its YAML header pins the Gradio
SDK to the version installed here), .gitattributes (the weights through Git LFS) and a copy
of the colorgan package with its weights and sample photos. docs/app.md says how to push it
and what hardware it needs.
"""

import shutil
import sys
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from colorgan import cli  # noqa: E402  first: quiets TensorFlow's start-up

from absl import flags, logging  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FLAGS = flags.FLAGS
flags.DEFINE_string("output_dir", "runs/space", "The Space's folder (must not exist).")
flags.DEFINE_string("title", "colorgan", "The Space's title.")

APP = '''"""colorgan on a Hugging Face Space: the web app (colorgan/app/) with the shipped model.

Spaces run `python app.py` and send traffic to port 7860. One model call at a time: a free
CPU Space has 2 vCPUs, which one call already keeps busy.
"""

from colorgan import config
from colorgan.app import server

SETTINGS = config.AppConfig(host="0.0.0.0", port=7860, concurrency=1, max_queue=16,
                            max_upload_mb=50)
demo = server.make_app(server.model_choices("pretrained"), settings=SETTINGS)

if __name__ == "__main__":
    server.launch(demo, SETTINGS)
'''

CARD = """---
title: {title}
emoji: 🎞️
colorFrom: gray
colorTo: yellow
sdk: gradio
sdk_version: {gradio}
python_version: "3.11"
app_file: app.py
license: apache-2.0
short_description: Restore and colorize old photos and films
---

# colorgan

Old photos and films in colour: upload a gray photo, see it colorized, click to give
colours, restore and upscale old scans, compare before and after, download the result; or
colorize a clip in the Video tab. The model is the one shipped in colorgan, trained on
178 openly licensed photos (its model card is in the colorgan repository, docs/model-card.md).

Runs on the free CPU hardware (2 vCPUs, 16 GB): a 1 MP photo takes about a second, with
restoration about 11 s. Nothing is sent anywhere but to your browser: no analytics.
"""

GITATTRIBUTES = """*.npz filter=lfs diff=lfs merge=lfs -text
*.jpg filter=lfs diff=lfs merge=lfs -text
"""


def requirements() -> list[str]:
    """colorgan's runtime requirements for a CPU machine, from pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return project["dependencies"] + extras["cpu"] + extras["app"]


def main(argv):
    import gradio

    from colorgan.errors import UserError

    out = Path(FLAGS.output_dir)
    if out.exists():
        raise UserError(f"output_dir: {out} exists; give a new folder")
    out.mkdir(parents=True)
    shutil.copytree(ROOT / "colorgan", out / "colorgan",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (out / "app.py").write_text(APP)
    (out / "requirements.txt").write_text("\n".join(requirements()) + "\n")
    (out / "README.md").write_text(CARD.format(title=FLAGS.title, gradio=gradio.__version__))
    (out / ".gitattributes").write_text(GITATTRIBUTES)
    logging.info("wrote the Space to %s (docs/app.md: how to push it)", out)
    return 0


if __name__ == "__main__":
    cli.run(main)
