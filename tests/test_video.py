"""colorgan/video.py: clips made here (a pan over a shipped photo, with audio) in and out."""

from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from colorgan import folders, video
from colorgan.errors import UserError

av = pytest.importorskip("av")


def make_clip(path, frames=24, fps=12, size=(64, 48), audio=True, codec="libx264"):
    """A pan across a shipped photo (the true colour video is known) plus a 440 Hz tone."""
    photo = Image.open(sorted((folders.SAMPLES_DIR / "val").iterdir())[0]).convert("RGB")
    photo = np.asarray(photo.resize((size[0] * 2, size[1])))
    truth = np.stack([photo[:, 2 * i:2 * i + size[0]] for i in range(frames)])
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=fps)
        odd = size[0] % 2 or size[1] % 2  # 4:2:0 needs even sides
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv444p" if odd else "yuv420p"
        streams = [vs]
        if audio:
            aus = out.add_stream("aac", rate=16000)
            streams.append(aus)
        for image in truth:
            out.mux(vs.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        if audio:
            t = np.arange(int(16000 * frames / fps)) / 16000
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for k in range(0, len(tone), 1024):
                frame = av.AudioFrame.from_ndarray(tone[None, k:k + 1024], format="fltp",
                                                   layout="mono")
                frame.sample_rate, frame.pts = 16000, k
                out.mux(aus.encode(frame))
        for s in streams:
            out.mux(s.encode(None))
    return truth


def stream_facts(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        times = [float(f.pts * f.time_base) for f in c.decode(v)]
        audio = [(a.codec_context.name, a.codec_context.sample_rate) for a in c.streams.audio]
    with av.open(str(path)) as c:
        audio_packets = [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size] if audio else []
    return times, audio, audio_packets


@pytest.mark.parametrize("size", [(64, 48), (65, 47)])
def test_transcode_keeps_frames_timestamps_and_audio(tmp_path, size):
    src, dst = tmp_path / "clip.mp4", tmp_path / "out.mp4"
    truth = make_clip(src, size=size)
    info = video.probe(src)
    assert (info.width, info.height, info.fps, info.audio_streams) == (*size, Fraction(12), 1)
    seen = []
    n = video.transcode(src, dst, lambda rgb: 255 - rgb, batch_size=5, on_frames=seen.append)
    assert n == 24 and seen == [5, 10, 15, 20, 24]
    t_in, audio_in, packets_in = stream_facts(src)
    t_out, audio_out, packets_out = stream_facts(dst)
    assert t_out == t_in and len(t_in) == 24  # frame count, rate and duration
    assert video.probe(dst).fps == 12
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
            video.transcode(bad, dst, lambda rgb: rgb)
    with pytest.raises(UserError, match="write videos as"):
        video.transcode(src, tmp_path / "out.webm", lambda rgb: rgb)

    def interrupted(rgb):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        video.transcode(src, dst, interrupted)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["clip.mp4", "tone.m4a", "cut.mp4", "notes.mp4"])  # nothing half-written
