"""Colour from a reference photo (issue 32): the feature match, the gate, the paths that
take a reference, and its bad inputs. The shipped model (it has the VGG16 encoder) at its
128 px render; photos of samples:val."""

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from colorgan import color
from colorgan.archive import files
from colorgan.data import imagefiles, input_pipeline
from colorgan.errors import UserError
from colorgan.evaluate import protocol, references
from colorgan.models import correspondence, networks
from colorgan.serve import exemplar, opener

VAL = Path(__file__).resolve().parents[1] / "colorgan" / "samples" / "val"
CHAIR = VAL / "gcompris_categorization_chair.jpg"


@pytest.fixture(scope="module")
def shipped():
    return opener.open_model("pretrained")


def _psnr(a, b) -> float:
    return float(tf.reduce_mean(tf.image.psnr(a, b, 1.0)))


def test_the_match_on_a_shifted_copy_recovers_the_shift(shipped):
    """Target: a 128 px window of the chair photo; reference: the window 16 px lower and 24
    px to the right. Given each reference cell's own coordinates as its 'colour', the warped
    coordinates of every target cell seen in both are the cell's own plus the shift (4 and 6
    cells on relu3_3's S/4 grid), and the confidence is higher there than where the
    reference does not reach."""
    image = tf.image.resize(imagefiles.read_image(CHAIR)[None], [176, 176], antialias=True)
    L, _ = color.rgb_to_model(image)
    target, reference = L[:, :128, :128], L[:, 16:144, 24:152]
    generator = shipped.module.generator
    t = correspondence.describe(networks.encoder_features(generator, target))
    r = correspondence.describe(networks.encoder_features(generator, reference))
    assert t.shape[:3] == (1, 32, 32) and r.shape[:3] == (1, 32, 32)
    rows, cols = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    where = np.stack([rows, cols], -1)[None].astype(np.float32)  # reference cell (y, x)
    warped, confidence = correspondence.match(t, r, tf.constant(where))
    seen = (rows >= 4 + 2) & (cols >= 6 + 2) & (rows < 30) & (cols < 30)  # inside both
    error = np.abs(warped[0].numpy() - (np.stack([rows - 4, cols - 6], -1)))[seen]
    assert np.median(error) < 0.5 and np.mean(error.max(-1) < 1.5) > 0.9, np.median(error)
    unseen = (rows < 3) | (cols < 5)
    c = confidence[0, ..., 0].numpy()
    assert c[seen].mean() > c[unseen].mean() + 0.1, (c[seen].mean(), c[unseen].mean())


def test_the_gate_is_linear_between_its_ends():
    c = tf.constant([-1.0, correspondence.LOW, (correspondence.LOW + correspondence.HIGH) / 2,
                     correspondence.HIGH, 1.0])
    np.testing.assert_allclose(correspondence.gate(c).numpy(), [0, 0, 0.5, 1, 1], atol=1e-6)


def test_a_view_of_the_same_photo_colours_it_and_noise_leaves_the_automatic_colour(shipped):
    """The chair photo (a portrait 120 x 90) with a mirrored, landscape crop of itself as
    the reference comes out far closer to the truth than the automatic colour; a colourful
    noise reference matches nothing, so the gate keeps the automatic colour."""
    photo = tf.image.resize(imagefiles.read_image(CHAIR)[None], [120, 90], antialias=True)
    truth = color.model_to_rgb(*color.rgb_to_model(photo)).numpy()
    view = truth[0, 20:80, 5:85][:, ::-1]
    auto = shipped(truth, 0)
    same = shipped.with_reference(truth, 0, view)
    noise = np.random.default_rng(0).random((48, 80, 3)).astype(np.float32)
    unrelated = shipped.with_reference(truth, 0, noise)
    assert same.shape == truth.shape
    assert _psnr(same, truth) > _psnr(auto, truth) + 3, (_psnr(same, truth), _psnr(auto, truth))
    assert np.abs(unrelated - auto).mean() < 2 / 255, np.abs(unrelated - auto).mean()
    gray = np.repeat(view.mean(-1, keepdims=True), 3, axis=-1)  # past exemplar.check
    np.testing.assert_array_equal(shipped.with_reference(truth, 0, gray), auto)
    two = shipped.with_reference(np.concatenate([truth, truth]), 0, view,
                                 [(0.5, 0.5, (1.0, 0.0, 0.0))])  # hints for every photo
    assert two.shape == (2, 120, 90, 3)
    # Batch elements may take other kernel paths: 0 here on the Xeon with AMX (natively and
    # under ONEDNN_MAX_CPU_ISA=AVX2), 1.39e-5 on the AVX2 EPYC. 5e-4 is 36x that and an eighth
    # of one 8-bit level (docs/notes/tests.md, agreement tolerances).
    np.testing.assert_allclose(two[0], two[1], atol=5e-4)


def test_hints_win_over_the_reference_where_they_are(shipped, tmp_path):
    """colorize_files with a reference and a red hint on the seat: the seat turns red
    though the reference says white, while the wall far from the hint keeps the reference's
    colour (not the automatic one)."""
    ref_path = tmp_path / "ref.png"
    imagefiles.write_image(imagefiles.read_image(CHAIR)[40:280, :, :], ref_path, "png")
    reference = exemplar.read(ref_path)
    red = [(0.55, 0.43, (224 / 255, 32 / 255, 32 / 255))]
    report = files.colorize_files(shipped, [str(CHAIR)], tmp_path / "out", "png", points=red,
                                  references=[reference], tree=files.TreeConfig(manifest="auto"))
    plain = files.colorize_files(shipped, [str(CHAIR)], tmp_path / "plain", "png",
                                 references=[reference])
    auto = files.colorize_files(shipped, [str(CHAIR)], tmp_path / "auto", "png")
    hinted, referenced, automatic = (imagefiles.read_image(r.pairs()[0][1]) * 255
                                     for r in (report, plain, auto))
    spot, white = hinted[138, 132], referenced[138, 132]  # (0.43, 0.55) of 320 x 240
    assert spot[0] - max(spot[1:]) > 60 and white[0] - max(white[1:]) < 30, (spot, white)
    # The hint fills the seat as without a reference (its own pass, with region's fill
    # band): the chair test's seat box, (0.45-0.75, 0.41-0.445), at least +40 a*.
    a = [color.rgb_to_lab(tf.constant(im[None] / 255, tf.float32)).numpy()[0, 131:142, 108:180, 1]
         for im in (hinted, referenced)]
    assert a[0].mean() - a[1].mean() >= 40, a[0].mean() - a[1].mean()
    wall = (slice(50, 90), slice(10, 50))  # top left, inside the reference's crop
    assert np.abs(hinted[wall] - referenced[wall]).mean() < 2, "the hint reached the wall"
    assert np.abs(referenced[wall] - automatic[wall]).mean() > 4, "the reference did not count"
    manifest = [json.loads(line) for line in (tmp_path / "out" / "colorgan_manifest.jsonl")
                .read_text().splitlines()]
    assert len(manifest[0]["settings"]["reference"]) == 16  # a rerun must bring the same one


def test_bad_references_are_one_line_each(tmp_path, tiny_cfg):
    import imagefiles as F  # tests/imagefiles.py: headers that declare huge images

    (tmp_path / "text.png").write_text("not an image")
    (tmp_path / "bomb.png").write_bytes(F.png_bomb())
    imagefiles.write_image(np.full((20, 30, 3), 0.5, np.float32), tmp_path / "gray.png", "png")
    for name, words in (("missing.png", "No such file"), ("text.png", "not a readable image"),
                        ("bomb.png", "not a readable image"), ("gray.png", "is gray")):
        with pytest.raises(UserError, match=words) as e:
            exemplar.read(tmp_path / name)
        assert str(e.value).startswith(f"reference: {tmp_path / name}") and "\n" not in str(e.value)
    colour = tmp_path / "colour.png"
    imagefiles.write_image(imagefiles.read_image(CHAIR), colour, "png")
    assert len(exemplar.read_many(f"{colour}, {colour}")) == 2
    with pytest.raises(UserError, match=f"^reference: {tmp_path / 'gray.png'} is gray"):
        exemplar.read_many(f"{colour},{tmp_path / 'gray.png'}")  # each named, in order
    generator = networks.build_generator(tiny_cfg.model, tiny_cfg.data.image_size)
    from colorgan.serve.opener import build_colorizer
    from colorgan import config
    plain = opener.LoadedModel(build_colorizer(generator, tiny_cfg, config.RenderConfig()), "tiny")
    with pytest.raises(UserError, match="no VGG16 encoder"):
        plain.with_reference(np.zeros((1, 32, 32, 3), np.float32), 0,
                             np.ones((32, 32, 3), np.float32))

    class FirstExport:  # an export from the first version with references: one at a time
        takes_reference = tf.Variable(True)

    two = [np.ones((32, 32, 3), np.float32)] * 2
    with pytest.raises(UserError, match="re-export it"):  # before any input is read
        files.colorize_files(opener.LoadedModel(FirstExport(), "old"), ["x.jpg"], None,
                             references=two)


def test_reference_pairs_are_seeded_views_beside_the_protocols_crops():
    """Crops equal eval_dataset's; views are 3/4 x 1 of the side, the same on every run,
    mirrored windows of their own photo (same_scene) or of the next one (other)."""
    source = input_pipeline.open_source("samples:val", min_chroma=0.0)
    (crops, same), = references.pairs(source, "same_scene", size=64, batch_size=3, limit=3)
    (_, again), = references.pairs(source, "same_scene", size=64, batch_size=3, limit=3)
    (_, other), = references.pairs(source, "other", size=64, batch_size=3, limit=3)
    L, ab = next(iter(input_pipeline.eval_dataset(source, image_size=64, batch_size=3, limit=3)))
    np.testing.assert_allclose(color.model_to_rgb(L, ab), crops, atol=2e-3)
    assert same.shape == (3, 48, 64, 3)
    np.testing.assert_array_equal(same, again)
    np.testing.assert_array_equal(other, tf.roll(same, -1, axis=0))
    one_by_one = [v for _, v in references.pairs(source, "other", size=64, batch_size=1,
                                                  limit=3)]
    np.testing.assert_array_equal(np.concatenate(one_by_one), other)
    with pytest.raises(UserError, match="at least two photos"):
        next(references.pairs(source, "other", size=64, batch_size=1, limit=1))
    with pytest.raises(UserError, match="choose one of same_scene, other"):
        next(references.pairs(source, "similar", size=64, batch_size=3))


def test_evaluate_scores_a_reference_and_draws_it_on_the_sheet(shipped, tmp_path):
    source = input_pipeline.open_source("samples:val", min_chroma=0.0)
    got = {kind: protocol.evaluate(shipped, source, tmp_path / (kind or "auto"), size=64,
                                   limit=4, use_lpips=False, sheet_rows=2, reference=kind)
           for kind in ("", "same_scene")}
    assert got["same_scene"]["reference"] == "same_scene" and "reference" not in got[""]
    assert got["same_scene"]["colorgan"]["psnr"] > got[""]["colorgan"]["psnr"] + 1, got
    from PIL import Image
    with Image.open(tmp_path / "same_scene" / "comparison.png") as sheet, \
            Image.open(tmp_path / "auto" / "comparison.png") as plain:
        assert sheet.width > plain.width * 1.2  # one more column: the reference
    with pytest.raises(UserError, match="one at a time"):
        protocol.score(shipped, source, size=64, limit=1, hints=2, reference="other")


def test_keyframes_steer_the_shots_they_match_and_nothing_crosses_the_cut(shipped, tmp_path):
    """A two-shot clip (a pan over a basket, a cut, a zoom into a fish; 6 frames a shot) and
    a colour keyframe from each shot. Given [fish, basket], each shot takes its own and
    comes far closer to the truth than the flow filter alone, with no more flicker (warping
    error); colorize.py's path writes such colours too. Given the basket's only, the fish
    shot keeps the filter's colour within 0.3 dB: nothing is carried across the cut, and
    the gate leaves an unrelated shot automatic."""
    from colorgan.evaluate import video_protocol
    from colorgan.video import clips, container

    frames, cut = clips.two_shots(size=(96, 64), frames_per_shot=6)
    clip = tmp_path / "clip.mp4"
    clips.write(clip, frames, tone_hz=0)
    basket, fish = frames[3] / 255.0, frames[cut + 3] / 255.0
    both = video_protocol.evaluate_video(shipped, str(clip), tmp_path / "both",
                                         references=[fish, basket])
    assert [(s["frame"], s["reference"]) for s in both["reference_per_shot"]] == [(0, 2), (cut, 1)]
    by_shot = both["colour_psnr_by_shot"]
    assert all(r > f + 5 for r, f in zip(by_shot["reference"], by_shot["flow"])), by_shot
    assert both["warping_error"]["reference"] <= both["warping_error"]["flow"] * 1.05
    one = video_protocol.evaluate_video(shipped, str(clip), tmp_path / "one", references=[basket])
    shot1, shot2 = one["colour_psnr_by_shot"]["reference"]
    assert shot1 > one["colour_psnr_by_shot"]["flow"][0] + 5
    assert abs(shot2 - one["colour_psnr_by_shot"]["flow"][1]) < 0.3, one["colour_psnr_by_shot"]
    report = files.colorize_files(shipped, [str(clip)], tmp_path / "out",
                                  references=[fish, basket])
    written = np.concatenate(list(container.read_frames(report.pairs()[0][1]))) / 255.0
    truth = np.concatenate(list(container.read_frames(clip))) / 255.0  # what evaluate scores
    assert len(written) == len(truth) == len(frames)
    for k, part in enumerate((slice(0, cut), slice(cut, None))):
        assert _psnr(written[part], truth[part]) > by_shot["flow"][k] + 5


def test_one_folder_gathers_photos_each_with_its_own_reference(shipped, tmp_path):
    """colorize.py --reference=a.png --output_dir=out p1.png, then --reference=b.png p2.png
    into the same folder: both written. p1 again with b.png is refused in one line and its
    output left alone; p1 again with a.png is kept; with overwrite p1 is redone with b.png."""
    photos = sorted(VAL.glob("*.jpg"))[:2]
    p1, p2 = (tmp_path / "p1.png", tmp_path / "p2.png")
    for source, path in zip(photos, (p1, p2)):
        small = tf.image.resize(imagefiles.read_image(source)[None], [48, 64], antialias=True)
        imagefiles.write_image(small[0].numpy(), path, "png")
    a = imagefiles.read_image(photos[0])
    b = np.ascontiguousarray(imagefiles.read_image(photos[1])[:, ::-1])
    out = tmp_path / "out"

    def run(photo, reference, **options):
        return files.colorize_files(shipped, [str(photo)], out, references=[reference],
                                    tree=files.TreeConfig(manifest="auto", **options))

    assert [p.name for p in run(p1, a).written] == ["p1.png"]
    assert [p.name for p in run(p2, b).written] == ["p2.png"]
    first = (out / "p1.png").read_bytes()
    with pytest.raises(UserError, match=r"p1.png: already colorized into .*p1.png with other "
                       r"settings \(reference='[0-9a-f]{16}', now '[0-9a-f]{16}'\); rerun "
                       r"with --overwrite"):
        run(p1, b)
    assert (out / "p1.png").read_bytes() == first
    again = run(p1, a)
    assert (again.kept, again.written) == (1, [])
    redone = run(p1, b, overwrite=True)
    assert [p.name for p in redone.written] == ["p1.png"]
    assert (out / "p1.png").read_bytes() != first  # b's colours, not a's
    assert sorted(p.name for p in out.iterdir()) == ["colorgan_manifest.jsonl", "p1.png", "p2.png"]
    from colorgan.archive import manifest
    known, records = manifest.read(out / manifest.NAME)
    by_name = {Path(k).name: r for k, r in records.items()}
    # a's settings went with p1's last output made with them (the compacted manifest)
    assert list(known) == [by_name["p1.png"]["settings"]] == [by_name["p2.png"]["settings"]]
