"""colorgan/video/container.py: clips made here (a pan over a shipped photo, with audio) in and out."""

from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from colorgan import config
from colorgan.errors import UserError
from colorgan.evaluate import video_protocol
from colorgan.archive import files
from colorgan.serve import opener
from colorgan.video import clips, container, film

av = pytest.importorskip("av")


def make_clip(path, frames=24, fps=12, size=(64, 48), audio=True, codec="libx264"):
    """A pan across a shipped photo (the true colour video is known) plus a 440 Hz tone."""
    photo = np.asarray(Image.fromarray(clips.sample_photo(0)).resize((size[0] * 2, size[1])))
    truth = np.stack([photo[:, 2 * i:2 * i + size[0]] for i in range(frames)])
    clips.write(path, truth, fps, tone_hz=440 if audio else 0, codec=codec)
    return truth


def stream_facts(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        times = [float(f.pts * f.time_base) for f in c.decode(v)]
        audio = [(a.codec_context.name, a.codec_context.sample_rate) for a in c.streams.audio]
    with av.open(str(path)) as c:
        audio_packets = [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size] if audio else []
    return times, audio, audio_packets


def audio_times(path):
    """(start, end) in seconds of every audio packet: the audio's place in time."""
    with av.open(str(path)) as c:
        return [(float(p.pts * p.time_base), float((p.pts + p.duration) * p.time_base))
                for p in c.demux(c.streams.audio[0]) if p.size]


@pytest.mark.parametrize("size", [(64, 48), (65, 47)])
def test_transcode_keeps_frames_timestamps_and_audio(tmp_path, size):
    src, dst = tmp_path / "clip.mp4", tmp_path / "out.mp4"
    truth = make_clip(src, size=size)
    info = container.probe(src)
    assert (info.width, info.height, info.fps, info.audio_streams) == (*size, Fraction(12), 1)
    seen = []
    n = container.transcode(src, dst, lambda rgb: 255 - rgb, batch_size=5, on_frames=seen.append)
    assert n == 24 and seen == [5, 10, 15, 20, 24]
    t_in, audio_in, packets_in = stream_facts(src)
    t_out, audio_out, packets_out = stream_facts(dst)
    assert t_out == t_in and len(t_in) == 24  # frame count, rate and duration
    assert container.probe(dst).fps == 12
    assert audio_out == audio_in and packets_out == packets_in  # copied, not re-encoded
    with av.open(str(dst)) as c:  # the frames are fn's output (H.264 at crf 18: close)
        out = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    assert np.abs(out.astype(float) - (255 - truth)).mean() < 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "out.mp4"]  # no temp left
    assert dst.stat().st_mode & 0o044 == src.stat().st_mode & 0o044  # readable as others' are


def test_bad_clips_are_one_line_errors_and_leave_nothing(tmp_path):
    src = tmp_path / "clip.mp4"
    make_clip(src, audio=False)
    dst = tmp_path / "out.mp4"
    no_video = tmp_path / "tone.m4a"
    with av.open(str(no_video), "w", format="mp4") as out:
        s = out.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                           layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        out.mux(s.encode(frame))
        out.mux(s.encode(None))
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    for bad, words in ((no_video, "no video stream"), (truncated, "not a readable video"),
                       (text, "not a readable video")):
        with pytest.raises(UserError, match=f"^{bad}: {words}"):
            container.transcode(bad, dst, lambda rgb: rgb)
    with pytest.raises(UserError, match="write videos as"):
        container.transcode(src, tmp_path / "out.webm", lambda rgb: rgb)

    def interrupted(rgb):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        container.transcode(src, dst, interrupted)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["clip.mp4", "tone.m4a", "cut.mp4", "notes.mp4"])  # nothing half-written


def test_damaged_clips_are_one_line_errors(tmp_path):
    """An unknown codec, a clip with no frames and a cut-off file, each as one line."""
    import av as _av
    good = tmp_path / "good.mp4"
    make_clip(good, audio=False)
    unknown = tmp_path / "unknown.mp4"
    unknown.write_bytes(good.read_bytes().replace(b"avc1", b"qqq1"))  # no decoder has it
    empty = tmp_path / "empty.mp4"
    with _av.open(str(empty), "w") as out:
        s = out.add_stream("libx264", rate=12)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        out.start_encoding()
    cut = tmp_path / "cut.mp4"  # index first (faststart), data cut off: frames declared, absent
    with _av.open(str(tmp_path / "fast.mp4"), "w", options={"movflags": "faststart"}) as out:
        s = out.add_stream("libx264", rate=12)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for image in make_clip(tmp_path / "x.mp4", audio=False):
            out.mux(s.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(s.encode(None))
    data = (tmp_path / "fast.mp4").read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    empty_mkv = tmp_path / "empty.mkv"  # Matroska keeps the empty track: it does not open
    with _av.open(str(empty_mkv), "w") as out:
        s = out.add_stream("libx264", rate=12)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        out.start_encoding()
    cut_mkv = tmp_path / "cut.mkv"  # Matroska declares no frame count, only a duration
    clips.write(tmp_path / "full.mkv", clips.two_shots((64, 48), 12)[0])
    data = (tmp_path / "full.mkv").read_bytes()
    cut_mkv.write_bytes(data[: len(data) * 6 // 10])
    before = sorted(p.name for p in tmp_path.iterdir())
    for bad, words in ((unknown, "unknown video codec"), (empty, "no video stream"),
                       (empty_mkv, "not a readable video"),
                       (cut, "damaged, truncated or unsupported|damaged or truncated")):
        with pytest.raises(UserError, match=f"^{bad}: {words}"):
            container.transcode(bad, tmp_path / "out.mp4", lambda rgb: rgb)
        with pytest.raises(UserError, match=f"^{bad}: {words}"):
            list(container.read_frames(bad))
    with pytest.raises(UserError, match=rf"^{cut_mkv}: truncated \(14 frames of the ~2\d its"):
        container.transcode(cut_mkv, tmp_path / "out.mp4", lambda rgb: rgb)
    container.transcode(tmp_path / "full.mkv", tmp_path / "whole.mp4", lambda rgb: rgb)  # no alarm
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before + ["whole.mp4"])


def tint(images, render_size):
    """A stand-in colorizer (the I/O tests need no network): warm tint, [B, H, W, 3]."""
    return np.clip(images * np.array([1.0, 0.85, 0.7], np.float32), 0, 1)


def test_colorize_files_takes_a_mixed_list(tmp_path):
    clip, photo, broken = tmp_path / "clip.mov", tmp_path / "photo.png", tmp_path / "bad.mkv"
    truth = make_clip(clip)
    Image.fromarray(truth[0]).save(photo)
    broken.write_text("not a video")
    report = files.colorize_files(tint, [str(clip), str(photo), str(broken)],
                                  tmp_path / "out")
    assert sorted(p.name for p in report.written) == ["clip.mp4", "photo.png"]
    [(name, reason)] = report.failed
    assert name == str(broken) and reason.startswith("not a readable video")  # named once
    t_in, audio_in, packets_in = stream_facts(clip)
    t_out, audio_out, packets_out = stream_facts(tmp_path / "out" / "clip.mp4")
    assert (t_out, audio_out, packets_out) == (t_in, audio_in, packets_in)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["clip.mp4", "photo.png"]
    # Beside the input, and never over it: clip_colorized.mp4.
    again = files.colorize_files(tint, [str(clip)], None, temporal=config.TemporalConfig(
        temporal="none"))
    assert again.written == [tmp_path / "clip_colorized.mp4"] and clip.exists()


class Doubling:
    """A stand-in restoring model that doubles the size (colorize.py --upscale=2)."""
    scale, restores = 2, True

    def __call__(self, images, render_size):
        return tint(np.repeat(np.repeat(images, 2, axis=1), 2, axis=2), render_size)


def test_an_upscaling_model_writes_the_video_at_its_size(tmp_path):
    clip = tmp_path / "clip.mp4"
    truth = make_clip(clip, frames=6, size=(64, 48), audio=False)
    # With the temporal filter on: it must read the output's lightness, not the input's.
    n = film.colorize_video(Doubling(), clip, tmp_path / "out.mp4", batch_size=4)
    info = container.probe(tmp_path / "out.mp4")
    assert n == 6 and (info.width, info.height) == (128, 96)
    with av.open(str(tmp_path / "out.mp4")) as c:
        first = next(c.decode(video=0)).to_ndarray(format="rgb24").astype(float)
    expected = Doubling()(truth[:1] / 255.0, 0)[0] * 255
    assert np.abs(first - expected).mean() < 6


def test_a_folder_of_frames_is_one_video(tmp_path):
    frames = tmp_path / "reel"
    frames.mkdir()
    truth = make_clip(tmp_path / "clip.mp4", frames=11, audio=False)
    for i, image in enumerate(truth):  # frame_9 before frame_10: numbers, not text
        Image.fromarray(image).save(frames / f"frame_{i}.png")
    assert [p.name for p in film.frame_files(frames)][9:] == ["frame_9.png", "frame_10.png"]
    report = files.colorize_files(tint, [str(frames)], tmp_path / "out", frame_folders=True,
                                  batch_size=4)
    out = tmp_path / "out" / "reel"
    assert report.written == [out] and not report.failed
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in frames.iterdir())
    first = np.asarray(Image.open(out / "frame_0.png"))
    assert first.shape == truth[0].shape
    # The first frame is the model's own colour (nothing to carry yet) on the input's L.
    x = truth[:1].astype(np.float32) / 255
    L, ab = film.lab_split(x, tint(x, 0))
    np.testing.assert_allclose(first / 255, film.lab_join(L, ab)[0], atol=1.01 / 255)
    # Run again: a new folder beside it, the first one kept.
    files.colorize_files(tint, [str(frames)], tmp_path / "out", frame_folders=True)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["reel", "reel_2"]
    Image.fromarray(truth[0][:20]).save(frames / "frame_99.png")  # in the last batch of 4
    bad = files.colorize_files(tint, [str(frames)], tmp_path / "out", frame_folders=True,
                               batch_size=4)
    assert bad.failed[0][1] == "frames differ in size (frame_99.png is 64x20, frame_0.png 64x48)"
    (frames / "frame_99.png").unlink()
    Image.fromarray(truth[1]).save(frames / "frame_1.jpg")
    bad = files.colorize_files(tint, [str(frames)], tmp_path / "out", frame_folders=True)
    assert bad.failed[0][1] == "frames frame_1 exist in two formats"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["reel", "reel_2"]
    (frames / "frame_1.jpg").unlink()
    # "." names the folder it stands for: beside it as reel_colorized.
    import os
    cwd = os.getcwd()
    os.chdir(frames)
    try:
        here = files.colorize_files(tint, ["."], None, frame_folders=True)
    finally:
        os.chdir(cwd)
    assert here.written == [tmp_path / "reel_colorized"] and not here.failed


@pytest.fixture(scope="module")
def shipped():
    return opener.open_model("pretrained")


def test_flow_steadies_the_shipped_model_on_two_shots(shipped, tmp_path):
    """The issue's acceptance on a clip made here: a pan over one photo, a cut, a zoom
    into another. --temporal=flow at least halves the warping error of frame-by-frame
    colour, keeps colour PSNR (within 0.2 dB), and carries nothing across the cut."""
    frames, cut = clips.two_shots((96, 64), 12)
    clip = tmp_path / "two_shots.mp4"
    clips.write(clip, frames, fps=12)
    result = video_protocol.evaluate_video(shipped, str(clip), tmp_path / "eval")
    we, psnr = result["warping_error"], result["colour_psnr"]
    assert result["scene_cuts"] == [cut] and result["frames"] == 2 * cut
    assert we["flow"] <= 0.5 * we["none"], we
    assert psnr["flow"] >= psnr["none"] - 0.2, psnr
    assert psnr["none"] > psnr["grayscale"]  # the shipped model colours these photos
    assert (tmp_path / "eval" / "strip.png").stat().st_size > 0
    report = files.colorize_files(shipped, [str(clip)], tmp_path / "out")
    out = report.written[0]
    assert stream_facts(out) == stream_facts(clip)  # frames, timestamps, audio
    assert container.probe(out).duration == container.probe(clip).duration
    assert audio_times(out) == audio_times(clip)
    with av.open(str(out)) as c:
        decoded = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    # The first frame after the cut is the model's own colour for it: nothing carried.
    alone = shipped(decoded[cut:cut + 1].astype(np.float32) / 255, 0)[0]
    assert np.abs(decoded[cut] / 255 - alone).mean() < 2 / 255


@pytest.mark.parametrize("name,codec,audio,out_suffix", [
    ("clip.webm", "libvpx-vp9", "libopus", ".mp4"),    # Opus has a place in MP4
    ("clip.avi", "mpeg4", "pcm_s16le", ".mkv"),        # PCM does not: Matroska
    ("clip.mkv", "libx264", "aac", ".mp4"),
])
def test_every_container_in_keeps_its_frames_and_audio(tmp_path, name, codec, audio, out_suffix):
    from colorgan.archive import files
    frames, _ = clips.two_shots((64, 48), 4)
    clip = tmp_path / name
    clips.write(clip, frames, codec=codec, audio_codec=audio)
    report = files.colorize_files(tint, [str(clip)], tmp_path / "out")
    assert report.written == [tmp_path / "out" / f"clip{out_suffix}"], report.failed
    t_in, audio_in, packets_in = stream_facts(clip)
    t_out, audio_out, packets_out = stream_facts(report.written[0])
    assert len(t_out) == len(frames) and audio_out == audio_in
    assert t_out == pytest.approx(t_in, abs=1e-3)  # Matroska keeps milliseconds
    assert packets_out == packets_in
    info_in, info_out = container.probe(clip), container.probe(report.written[0])
    # Millisecond timestamps (Matroska's) make 12 fps an average of 128000/10667.
    assert float(info_out.fps) == pytest.approx(float(info_in.fps), rel=1e-3)
    # The duration: frames at the same times (above) and audio at the same times. The
    # containers' own duration fields differ by their bookkeeping (a Matroska input
    # says 0.731 s where its last audio packet ends at 0.704 s, as the MP4 out says).
    assert np.allclose(audio_times(report.written[0]), audio_times(clip), atol=1e-3)
