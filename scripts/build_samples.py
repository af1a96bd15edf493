#!/usr/bin/env python3
"""Build the shipped sample photo folder ``colorgan/samples/``.

Sources
-------
* Debian package ``gcompris-qt-data``: WebP photographs stored inside the Qt
  binary resource files (``/usr/share/gcompris-qt/rcc/<activity>.rcc``).
  The .rcc files are read with the small reader in this script (no Qt needed).
  Licences come from the per-folder ``README`` credit files that GCompris ships
  inside each .rcc (one stanza per photo: Copyright / License / Source / Files)
  and are cross-checked against ``/usr/share/doc/gcompris-qt-data/copyright``.
* scikit-image: colour photographs bundled in ``skimage/data`` (licence taken
  from each loader's docstring).
* scikit-learn: ``sklearn/datasets/images/{china,flower}.jpg`` (CC-BY-2.0, see
  ``sklearn/datasets/images/README.txt``).

Only photos with a licence that allows redistribution are kept (CC0, public
domain, CC-BY, CC-BY-SA).  GPL, GFDL, non-commercial, unknown -> dropped.
Drawings, paintings, renders, cut-outs with transparency, grayscale/sepia and
tiny images are dropped by heuristics plus an explicit, reviewed exclude list.

Output
------
``colorgan/samples/{train,val}/<source>_<activity>_<stem>.jpg`` (RGB JPEG,
quality 90, shorter side <= 320 px, downscale only with Lanczos) and
``colorgan/samples/LICENSES.tsv``.  Copies of the same upstream source file
and near-identical images (dHash distance <= 4) are reduced to one.  The split
is deterministic: near-duplicate images (8x8 dHash Hamming distance <= 10) and
same-stem variants (e.g. two different Taj Mahal photos named tajMahal) are
grouped, and every group goes wholly to one split chosen from the SHA-1 of the
group key.

Run from the repository root::

    python scripts/build_samples.py              # (re)build colorgan/samples
    python scripts/build_samples.py --dry-run --contact-sheets /tmp/sheets  # review aid
    BUILD_SAMPLES_VERBOSE=1 python scripts/build_samples.py   # list every drop
"""

from __future__ import annotations

import argparse
import collections
import fnmatch
import hashlib
import io
import os
import re
import struct
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "colorgan" / "samples"
DEFAULT_RCC_DIR = Path("/usr/share/gcompris-qt/rcc")
DEFAULT_COPYRIGHT = Path("/usr/share/doc/gcompris-qt-data/copyright")

GCOMPRIS_PACKAGE = "gcompris-qt-data"
GCOMPRIS_ACTIVITIES = [
    "categorization",
    "details",
    "erase",
    "explore_farm_animals",
    "explore_monuments",
    "explore_world_animals",
    "explore_world_music",
]

MAX_SHORT_SIDE = 320
MIN_SHORT_SIDE = 128
JPEG_QUALITY = 90
MAX_TOTAL_BYTES = 15 * 1024 * 1024
MIN_CHROMA = 5.0            # mean Lab chroma below this = grayscale / sepia
MAX_TRANSPARENT_FRAC = 0.01  # more transparent pixels than this = cut-out / sprite
MIN_QUANT_COLOURS = 150     # distinct 5-bit-per-channel colours in a 128px thumb
MAX_FLAT_FRAC = 0.70        # pixels with ~zero gradient (large flat areas)
DUP_DISTANCE = 4            # dHash distance <= this inside the set = duplicate
GROUP_DISTANCE = 10         # dHash distance <= this = same split group
VAL_PERCENT = 18            # share of groups (by sha1 of the key) going to val

ALLOWED_LICENCE_RE = re.compile(r"^(CC0-1\.0|public-domain|CC-BY-\d\.\d|CC-BY-SA-\d\.\d)$")

# Images reviewed by eye on contact sheets (see --contact-sheets) and excluded
# although they pass the licence and the automatic checks.  Keys are output
# file stems (without .jpg); values say why.
#
# Review result (contact sheets of every licence-cleared candidate): all of
# them are real photographs; the automatic checks already remove the grayscale
# / near-white product shots and the spray bottle cut-out on flat white.  The
# entries below are the Van Gogh paintings of the "details" activity: that
# activity is currently dropped wholesale for licence reasons (see
# gcompris_candidates), the entries keep the paintings out should that change.
MANUAL_EXCLUDE: dict[str, str] = {
    "gcompris_details_eglise_d_auvers_sur_oise_background": "painting (Van Gogh)",
    "gcompris_details_gogh4_background": "painting (Van Gogh)",
    "gcompris_details_portrait_of_pere_tanguy_background": "painting (Van Gogh)",
    "gcompris_details_van_gogh_the_night_cafe_background": "painting (Van Gogh)",
    "gcompris_details_vincent_van_gogh0012_background": "painting (Van Gogh)",
    "gcompris_details_vincent_van_gogh0013_background": "painting (Van Gogh)",
    "gcompris_details_vincent_van_gogh0019_background": "painting (Van Gogh)",
    "gcompris_details_vincent_van_gogh_bridge_background": "painting (Van Gogh)",
}

# Obvious typos in upstream README "Files:" entries: {README name: shipped name}.
# explore_monuments credits "germany/audaPalatina.webp" (Berthold Werner,
# Trier_Konstantinbasilika = the Aula Palatina in Trier, public domain) but the
# shipped file is "germany/aulaPalatina.webp".
README_FILE_FIXES = {
    "explore_monuments": {"germany/audaPalatina.webp": "germany/aulaPalatina.webp"},
}

# scikit-image bundled colour photographs: (loader name, file in skimage/data,
# author <source>, licence).  Licences are quoted from the loaders' docstrings.
SKIMAGE_PHOTOS = [
    ("astronaut", "astronaut.png", "NASA <https://flic.kr/p/r9qvLn>", "public-domain"),
    ("coffee", "coffee.png", "Rachel Michetti (courtesy of Pikolo Espresso Bar)", "CC0-1.0"),
    ("chelsea", "chelsea.png", "Stefan van der Walt", "CC0-1.0"),
    ("rocket", "rocket.jpg",
     "SpaceX <https://www.flickr.com/photos/spacexphotos/16511594820/>", "public-domain"),
    ("retina", "retina.jpg",
     "Mikael Häggström <https://commons.wikimedia.org/wiki/File:Fundus_photograph_of_normal_left_eye.jpg>",
     "CC0-1.0"),
    ("hubble_deep_field", "hubble_deep_field.jpg", "NASA", "public-domain"),
]
# Not taken from skimage: camera, coins, moon, page, text, clock, horse, brick,
# grass, gravel, cell, microaneurysms (grayscale / binary); colorwheel, logo,
# chessboard (synthetic); immunohistochemistry ("no known copyright
# restrictions", no licence stated); stereo_motorcycle (Middlebury, no licence
# stated); lily, eagle, kidney, ... (not bundled, need a download).

SKLEARN_PHOTOS = [
    # README.txt: both "Released under a creative commons license" with link to
    # CC-BY-2.0.  For flower.jpg the README's attribution line repeats
    # "danielbuechele" but its author/source links point to Flickr user vultilion.
    ("china.jpg", "danielbuechele <https://www.flickr.com/photos/danielbuechele/6061409035/>",
     "CC-BY-2.0"),
    ("flower.jpg", "vultilion (README attribution line says danielbuechele) "
     "<https://www.flickr.com/photos/vultilion/6056698931/>", "CC-BY-2.0"),
]


# --------------------------------------------------------------------------
# Qt .rcc reader
# --------------------------------------------------------------------------

FLAG_COMPRESSED = 0x01
FLAG_DIRECTORY = 0x02
FLAG_COMPRESSED_ZSTD = 0x04


def read_rcc(path: Path) -> dict[str, bytes | None]:
    """Return {resource path: bytes} for every file in a Qt binary .rcc.

    zstd-compressed entries (no stdlib decoder) map to None.
    """
    buf = Path(path).read_bytes()
    if buf[:4] != b"qres":
        raise ValueError(f"{path}: not a Qt resource file (magic {buf[:4]!r})")
    version, tree_off, data_off, names_off = struct.unpack(">IIII", buf[4:20])
    if version not in (1, 2, 3):
        raise ValueError(f"{path}: unsupported rcc version {version}")
    node_size = 14 if version == 1 else 22

    def name_at(offset: int) -> str:
        pos = names_off + offset
        length, _hash = struct.unpack(">HI", buf[pos:pos + 6])
        return buf[pos + 6:pos + 6 + 2 * length].decode("utf-16-be")

    out: dict[str, bytes | None] = {}
    stack = [(0, "")]
    while stack:
        index, prefix = stack.pop()
        pos = tree_off + index * node_size
        name_offset, flags = struct.unpack(">IH", buf[pos:pos + 6])
        path_here = f"{prefix}/{name_at(name_offset)}" if index else ""
        if flags & FLAG_DIRECTORY:
            count, first = struct.unpack(">II", buf[pos + 6:pos + 14])
            stack.extend((child, path_here) for child in range(first, first + count))
            continue
        _country, _language, offset = struct.unpack(">HHI", buf[pos + 6:pos + 14])
        start = data_off + offset
        (length,) = struct.unpack(">I", buf[start:start + 4])
        payload = buf[start + 4:start + 4 + length]
        if flags & FLAG_COMPRESSED_ZSTD:
            out[path_here] = None
        elif flags & FLAG_COMPRESSED:
            (expected,) = struct.unpack(">I", payload[:4])
            data = zlib.decompress(payload[4:])
            if len(data) != expected:
                raise ValueError(f"{path}:{path_here}: bad zlib length")
            out[path_here] = data
        else:
            out[path_here] = payload
    return out


# --------------------------------------------------------------------------
# Licence metadata
# --------------------------------------------------------------------------

def normalise_licence(text: str) -> str:
    t = text.strip()
    low = t.lower().replace("_", " ")
    if not t:
        return "unknown"
    if low in ("public domain", "public-domain", "pd"):
        return "public-domain"
    if re.fullmatch(r"cc0(-1\.0| 1\.0)?", low):
        return "CC0-1.0"
    m = re.fullmatch(r"cc[- ]by(?:[- ](sa))?[- ](\d(?:\.\d)?)", low)
    if m:
        ver = m.group(2) if "." in m.group(2) else m.group(2) + ".0"
        return f"CC-BY-SA-{ver}" if m.group(1) else f"CC-BY-{ver}"
    return t  # GPL, GFDL, free-art, ... kept verbatim (and rejected)


def licence_allowed(licence: str) -> bool:
    return bool(ALLOWED_LICENCE_RE.match(licence))


@dataclass
class Credit:
    author: str
    licence: str
    source: str = ""
    comment: str = ""


def parse_gcompris_readme(text: str) -> dict[str, Credit]:
    """Parse a GCompris resource README (stanzas of Copyright/License/Source/
    Files lines separated by blank lines).  Returns {file name or glob: Credit}.
    File names may follow "Files:" on the same line or on their own lines
    (some stanzas omit the "Files:" key and just list names)."""
    result: dict[str, Credit] = {}
    for stanza in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        fields: dict[str, str] = {}
        files: list[str] = []
        for raw in stanza.split("\n"):
            line = raw.strip()
            if not line:
                continue
            m = re.match(r"^(Copyright|License|Licence|Source|Files|Comments?)\s*:\s*(.*)$", line, re.I)
            if m:
                key = m.group(1).lower().rstrip("s") if m.group(1).lower() != "files" else "files"
                key = {"licence": "license"}.get(key, key)
                if key == "files":
                    files.extend(m.group(2).split())
                else:
                    fields[key] = m.group(2).strip()
            elif re.fullmatch(r"[\w.\-*/]+\.\w+", line):
                files.append(line)
        if not files or "license" not in fields:
            continue
        credit = Credit(
            author=fields.get("copyright", "").strip() or "unknown",
            licence=normalise_licence(fields["license"]),
            source=fields.get("source", ""),
            comment=fields.get("comment", ""),
        )
        for f in files:
            result[f] = credit
    return result


@dataclass
class DebianParagraph:
    patterns: list[str]
    copyright: str
    licence: str


def parse_debian_copyright(text: str) -> list[DebianParagraph]:
    """Minimal DEP-5 parser: Files / Copyright / License fields of each paragraph."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, list[str]] = {}
        key = None
        for line in block.split("\n"):
            if line[:1] in (" ", "\t") and key:
                fields[key].append(line.strip())
            elif ":" in line:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                fields[key] = [value.strip()]
        if "files" in fields and "license" in fields:
            patterns = " ".join(fields["files"]).split()
            paragraphs.append(DebianParagraph(
                patterns=patterns,
                copyright="; ".join(x for x in fields.get("copyright", []) if x),
                licence=normalise_licence(fields["license"][0]),
            ))
    return paragraphs


def debian_lookup(paragraphs: list[DebianParagraph], path: str) -> tuple[DebianParagraph | None, str]:
    """DEP-5 semantics: the last paragraph whose pattern matches wins.
    Returns (paragraph, matching pattern)."""
    hit, hit_pattern = None, ""
    for para in paragraphs:
        for pattern in para.patterns:
            if fnmatch.fnmatchcase(path, pattern):
                hit, hit_pattern = para, pattern
    return hit, hit_pattern


# --------------------------------------------------------------------------
# Image helpers
# --------------------------------------------------------------------------

def dhash(img: Image.Image) -> int:
    """64-bit difference hash of the grayscale image (9x8 box-resampled)."""
    small = np.asarray(img.convert("L").resize((9, 8), Image.Resampling.BOX), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def hamming(a: int, b: int) -> int:
    return bin(a ^ b).count("1")


def mean_chroma(img: Image.Image) -> float:
    from skimage.color import rgb2lab
    arr = np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0
    lab = rgb2lab(arr)
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


def flatness_stats(img: Image.Image) -> tuple[int, float]:
    """(distinct 5-bit colours, fraction of flat pixels) on a <=128px thumbnail."""
    thumb = img.convert("RGB").copy()
    thumb.thumbnail((128, 128), Image.Resampling.BOX)
    arr = np.asarray(thumb, dtype=np.int16)
    q = (arr >> 3)
    colours = len(np.unique(q[..., 0] * 1024 + q[..., 1] * 32 + q[..., 2]))
    gx = np.abs(np.diff(arr, axis=1)).max(axis=2)[:-1, :]
    gy = np.abs(np.diff(arr, axis=0)).max(axis=2)[:, :-1]
    flat = float(((gx <= 1) & (gy <= 1)).mean())
    return colours, flat


def transparent_fraction(img: Image.Image) -> float:
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        alpha = np.asarray(img.convert("RGBA"))[..., 3]
        return float((alpha < 250).mean())
    return 0.0


def resize_short_side(img: Image.Image, max_short: int = MAX_SHORT_SIDE) -> Image.Image:
    w, h = img.size
    short = min(w, h)
    if short <= max_short:
        return img
    scale = max_short / short
    if w <= h:
        new = (max_short, max(max_short, round(h * scale)))
    else:
        new = (max(max_short, round(w * scale)), max_short)
    return img.resize(new, Image.Resampling.LANCZOS)


def encode_jpeg(img: Image.Image) -> bytes:
    bio = io.BytesIO()
    img.save(bio, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return bio.getvalue()


def safe_name(*parts: str) -> str:
    s = "_".join(parts)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)  # camelCase -> camel_case
    s = re.sub(r"[^a-z0-9]+", "_", s.lower()).strip("_")
    return re.sub(r"_+", "_", s)


# --------------------------------------------------------------------------
# Candidates
# --------------------------------------------------------------------------

@dataclass
class Candidate:
    name: str                 # output stem
    source_package: str
    original_path: str
    author: str
    licence: str
    load: object              # callable returning a PIL image
    source_url: str = ""
    activity: str = ""
    # filled in later
    jpeg: bytes = b""
    dhash: int = 0
    group: str = ""
    split: str = ""
    extra: dict = field(default_factory=dict)


def gcompris_candidates(rcc_dir: Path, copyright_path: Path, dropped: collections.Counter,
                        drop_log: list[tuple[str, str]], notes: list[str],
                        seen_names: set[str]) -> list[Candidate]:
    """Licence-cleared image candidates from the GCompris activity .rcc files.

    Licence resolution per file:
      1. the stanza of the activity's upstream README credit file naming the
         file (author, licence, source URL);
      2. if there is none, the Debian copyright file (last matching paragraph,
         DEP-5 semantics), which for these activities means the catch-all
         "Files: *" GPL-3+ -> dropped;
      3. if a README licence is allowed but a folder-level paragraph of the
         Debian copyright file (not the catch-all "*") gives a licence that is
         not allowed, the two disagree and the file is dropped (conservative).
    """
    paragraphs = parse_debian_copyright(copyright_path.read_text(encoding="utf-8"))
    cands = []
    for activity in GCOMPRIS_ACTIVITIES:
        rcc_path = rcc_dir / f"{activity}.rcc"
        if not rcc_path.exists():
            notes.append(f"missing {rcc_path}")
            continue
        files = read_rcc(rcc_path)
        # README credits, keyed by full resource path (or glob)
        credits: dict[str, Credit] = {}
        for res_path, data in files.items():
            if os.path.basename(res_path) == "README" and data is not None:
                folder = os.path.dirname(res_path)
                fixes = README_FILE_FIXES.get(activity, {})
                for pattern, credit in parse_gcompris_readme(data.decode("utf-8", "replace")).items():
                    credits[f"{folder}/{fixes.get(pattern, pattern)}"] = credit
        for res_path in sorted(files):
            if not res_path.lower().endswith((".webp", ".jpg", ".jpeg", ".png")):
                continue
            src_path = res_path.split("/gcompris/", 1)[-1]      # src/activities/...
            rel = src_path.split(f"activities/{activity}/", 1)[-1]
            name = safe_name("gcompris", activity, os.path.splitext(os.path.basename(rel))[0])
            seen_names.add(name)
            data = files[res_path]

            def drop(reason: str) -> None:
                dropped[reason] += 1
                drop_log.append((name, reason))

            if data is None:
                drop("zstd-compressed (cannot decode)")
                continue
            credit = None
            for pattern, c in credits.items():
                if fnmatch.fnmatchcase(res_path, pattern):
                    credit = c
            deb, deb_pattern = debian_lookup(paragraphs, src_path)
            if credit is None:
                if deb is None:
                    drop("licence: unknown")
                    continue
                credit = Credit(author=deb.copyright or "unknown", licence=deb.licence)
                if not licence_allowed(credit.licence):
                    drop(f"licence: no README credit, debian/copyright '{deb_pattern}' says {deb.licence}")
                    continue
            elif deb is not None and deb_pattern != "*" and not licence_allowed(deb.licence) \
                    and licence_allowed(credit.licence):
                drop(f"licence: README says {credit.licence} but debian/copyright "
                     f"'{deb_pattern}' says {deb.licence}")
                continue
            if not licence_allowed(credit.licence):
                drop(f"licence: README says {credit.licence}")
                continue
            author = credit.author
            if credit.source:
                author = f"{author} <{credit.source}>"
            cands.append(Candidate(
                name=name,
                source_package=GCOMPRIS_PACKAGE,
                original_path=f"/usr/share/gcompris-qt/rcc/{activity}.rcc:/gcompris/{src_path}",
                author=author,
                licence=credit.licence,
                load=(lambda d=data: Image.open(io.BytesIO(d))),
                source_url=credit.source,
                activity=activity,
            ))
    return cands


def skimage_candidates() -> list[Candidate]:
    import skimage
    import skimage.data
    data_dir = Path(skimage.data.__file__).parent
    cands = []
    for loader, fname, author, licence in SKIMAGE_PHOTOS:
        path = data_dir / fname
        if not path.exists():
            continue
        cands.append(Candidate(
            name=safe_name("skimage", "data", loader),
            source_package="scikit-image",
            original_path=f"skimage/data/{fname}",
            author=author,
            licence=licence,
            load=(lambda p=path: Image.open(p)),
            activity="data",
        ))
    return cands


def sklearn_candidates() -> list[Candidate]:
    import sklearn
    img_dir = Path(sklearn.__file__).parent / "datasets" / "images"
    cands = []
    for fname, author, licence in SKLEARN_PHOTOS:
        path = img_dir / fname
        if not path.exists():
            continue
        cands.append(Candidate(
            name=safe_name("sklearn", "sample_images", Path(fname).stem),
            source_package="scikit-learn",
            original_path=f"sklearn/datasets/images/{fname}",
            author=author,
            licence=licence,
            load=(lambda p=path: Image.open(p)),
            activity="sample_images",
        ))
    return cands


# --------------------------------------------------------------------------
# Filtering, dedup, split
# --------------------------------------------------------------------------

def process(cands: list[Candidate], dropped: collections.Counter,
            drop_log: list[tuple[str, str]], use_manual_exclude: bool = True) -> list[Candidate]:
    kept = []
    for c in cands:
        img = c.load()
        img.load()
        reason = None
        w, h = img.size
        tf = transparent_fraction(img)
        if tf > MAX_TRANSPARENT_FRAC:
            reason = f"transparency ({tf:.0%} transparent pixels)"
        elif min(w, h) < MIN_SHORT_SIDE:
            reason = f"too small ({w}x{h})"
        if reason is None:
            rgb = img.convert("RGB")
            out = resize_short_side(rgb)
            jpeg = encode_jpeg(out)
            final = Image.open(io.BytesIO(jpeg)).convert("RGB")
            chroma = mean_chroma(final)
            colours, flat = flatness_stats(final)
            c.extra.update(chroma=chroma, colours=colours, flat=flat, size=(w, h))
            if chroma < MIN_CHROMA:
                reason = f"grayscale/sepia (chroma {chroma:.1f})"
            elif colours < MIN_QUANT_COLOURS:
                reason = f"few colours ({colours})"
            elif flat > MAX_FLAT_FRAC:
                reason = f"large flat areas ({flat:.0%})"
            elif use_manual_exclude and c.name in MANUAL_EXCLUDE:
                reason = f"manual: {MANUAL_EXCLUDE[c.name]}"
            else:
                c.jpeg = jpeg
                c.dhash = dhash(final)
        if reason:
            key = reason.split(" (")[0] if not reason.startswith("manual") else "manual exclude"
            dropped[key] += 1
            drop_log.append((c.name, reason))
        else:
            kept.append(c)
    return kept


def dedupe(cands: list[Candidate], dropped: collections.Counter,
           drop_log: list[tuple[str, str]]) -> list[Candidate]:
    """Drop exact / near duplicates (same upstream source file, or dHash
    distance <= DUP_DISTANCE); keep the largest original (ties: by name)."""
    kept: list[Candidate] = []
    seen_sources: dict[str, str] = {}
    for c in sorted(cands, key=lambda c: (-c.extra["size"][0] * c.extra["size"][1], c.name)):
        if c.source_url and c.source_url in seen_sources:
            dropped["duplicate (same upstream source)"] += 1
            drop_log.append((c.name, f"duplicate of {seen_sources[c.source_url]} (same source)"))
            continue
        dup = next((k for k in kept if hamming(k.dhash, c.dhash) <= DUP_DISTANCE), None)
        if dup is not None:
            dropped["duplicate (dHash)"] += 1
            drop_log.append((c.name, f"near-duplicate of {dup.name} (dHash {hamming(dup.dhash, c.dhash)})"))
            continue
        if c.source_url:
            seen_sources[c.source_url] = c.name
        kept.append(c)
    return kept


def assign_splits(cands: list[Candidate]) -> None:
    parent = {c.name: c.name for c in cands}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a, b):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    by_key: dict[str, str] = {}
    for c in cands:
        k = variant_key_for(c)
        if k in by_key:
            union(by_key[k], c.name)
        else:
            by_key[k] = c.name
    for i, a in enumerate(cands):
        for b in cands[i + 1:]:
            if hamming(a.dhash, b.dhash) <= GROUP_DISTANCE:
                union(a.name, b.name)
    for c in cands:
        c.group = find(c.name)
        h = int(hashlib.sha1(c.group.encode("utf-8")).hexdigest()[:8], 16)
        c.split = "val" if h % 100 < VAL_PERCENT else "train"


def variant_key_for(c: Candidate) -> str:
    """Stem shared by variants of one subject, independent of source/activity:
    e.g. categorization 'tajMahal', explore_monuments 'wonders/tajMahal' and
    details 'TajMahal_background' share 'tajmahal'."""
    stem = os.path.splitext(c.original_path.rsplit("/", 1)[-1])[0]
    stem = re.sub(r"[_-](\d+|background)$", "", stem)
    return re.sub(r"[^a-z0-9]", "", stem.lower())


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------

def contact_sheets(cands: list[Candidate], out_dir: Path, reasons: dict[str, str],
                   per_sheet: int = 48, cols: int = 8, cell: int = 200) -> None:
    """Thumbnails of all licence-cleared candidates; automatic rejects are
    labelled in red with the reason."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("sheet_*.png"):
        old.unlink()
    for s in range(0, len(cands), per_sheet):
        chunk = cands[s:s + per_sheet]
        rows = (len(chunk) + cols - 1) // cols
        sheet = Image.new("RGB", (cols * cell, rows * (cell + 14)), "white")
        draw = ImageDraw.Draw(sheet)
        for i, c in enumerate(chunk):
            img = c.load().convert("RGB")
            img.thumbnail((cell - 4, cell - 4))
            x, y = (i % cols) * cell, (i // cols) * (cell + 14)
            sheet.paste(img, (x + 2, y + 2))
            label = c.name.replace("gcompris_", "")[:30]
            if c.name in reasons:
                label = "X " + reasons[c.name][:28]
            draw.text((x + 2, y + cell), label, fill="red" if c.name in reasons else "black")
        sheet.save(out_dir / f"sheet_{s // per_sheet:02d}.png")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (colorgan/samples)")
    ap.add_argument("--rcc-dir", type=Path, default=DEFAULT_RCC_DIR)
    ap.add_argument("--copyright", type=Path, default=DEFAULT_COPYRIGHT)
    ap.add_argument("--contact-sheets", type=Path, default=None,
                    help="also write contact sheets of the kept images (before the manual "
                         "exclude list is applied) to this folder for review")
    ap.add_argument("--dry-run", action="store_true", help="do not write the sample folder")
    args = ap.parse_args(argv)

    dropped: collections.Counter = collections.Counter()
    drop_log: list[tuple[str, str]] = []
    notes: list[str] = []

    seen_names: set[str] = set()
    cands = gcompris_candidates(args.rcc_dir, args.copyright, dropped, drop_log, notes, seen_names)
    cands += skimage_candidates()
    cands += sklearn_candidates()
    n_candidates = len(cands) + sum(dropped.values())

    names = collections.Counter(c.name for c in cands)
    clash = [n for n, k in names.items() if k > 1]
    if clash:
        raise SystemExit(f"output name clash: {clash}")

    if args.contact_sheets:
        review_log: list[tuple[str, str]] = []
        process(list(cands), collections.Counter(), review_log, use_manual_exclude=False)
        contact_sheets(sorted(cands, key=lambda c: c.name), args.contact_sheets, dict(review_log))

    kept = process(cands, dropped, drop_log)
    kept = dedupe(kept, dropped, drop_log)
    assign_splits(kept)
    kept.sort(key=lambda c: c.name)
    if os.environ.get("BUILD_SAMPLES_VERBOSE"):
        groups = collections.defaultdict(list)
        for c in kept:
            groups[c.group].append(c.name)
        for members in sorted(groups.values()):
            if len(members) > 1:
                print("group:", members)

    total = sum(len(c.jpeg) for c in kept)
    if total > MAX_TOTAL_BYTES:
        raise SystemExit(f"total size {total} exceeds {MAX_TOTAL_BYTES}")
    unknown_manual = set(MANUAL_EXCLUDE) - seen_names - {c.name for c in cands}
    if unknown_manual:
        notes.append(f"MANUAL_EXCLUDE entries that matched nothing: {sorted(unknown_manual)}")

    if not args.dry_run:
        for split in ("train", "val"):
            d = args.out / split
            d.mkdir(parents=True, exist_ok=True)
            for old in d.glob("*.jpg"):
                old.unlink()
        for c in kept:
            (args.out / c.split / f"{c.name}.jpg").write_bytes(c.jpeg)
        rows = ["file\tsplit\tsource_package\toriginal_path\tauthor\tlicence"]
        for c in kept:
            cells = [f"{c.name}.jpg", c.split, c.source_package, c.original_path,
                     c.author, c.licence]
            rows.append("\t".join(x.replace("\t", " ").replace("\n", " ") for x in cells))
        (args.out / "LICENSES.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")

    # summary
    print(f"candidates considered: {n_candidates}")
    print(f"kept: {len(kept)}  total bytes: {total} ({total / 1024 / 1024:.2f} MiB)")
    by_split = collections.Counter(c.split for c in kept)
    print("per split:", dict(sorted(by_split.items())),
          f"groups: {len({c.group for c in kept})}")
    by_src = collections.Counter(f"{c.source_package.split()[0]}:{c.activity}" for c in kept)
    print("per source:")
    for k, v in sorted(by_src.items()):
        print(f"  {k:40s} {v}")
    print("per licence:")
    for k, v in sorted(collections.Counter(c.licence for c in kept).items()):
        print(f"  {k:40s} {v}")
    print(f"dropped: {sum(dropped.values())}")
    for k, v in sorted(dropped.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {v:4d}  {k}")
    if os.environ.get("BUILD_SAMPLES_VERBOSE"):
        for name, reason in sorted(drop_log):
            print(f"    - {name}: {reason}")
    for n in notes:
        print("note:", n)
    if not args.dry_run:
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
