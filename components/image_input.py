"""Image input: upload a picture, take one with the camera, or pick a built-in sample; returns RGB uint8 or None."""

from __future__ import annotations

import streamlit as st

from services import budget
from services.imaging import DEFAULT_MAX_SIDE, SAMPLES, ImageInputError, LoadedImage, load_image, load_sample
from services.text import escape_markdown

UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff", "gif"]


@st.cache_data(show_spinner=False, max_entries=32)
def _cached_upload(data: bytes, max_side: int) -> LoadedImage:
    return load_image(data, max_side=max_side)


@st.cache_data(show_spinner=False, max_entries=16)
def _cached_sample(name: str, max_side: int) -> LoadedImage:
    return load_sample(name, max_side=max_side)


def image_input(
    key: str,
    *,
    default_sample: str = "chelsea",
    max_side: int = DEFAULT_MAX_SIDE,
    label: str = "Image",
) -> LoadedImage | None:
    """Draw the source picker; return the chosen image, or None (with an ``st.error``) when unusable."""
    source = st.radio(label, ["Sample", "Upload", "Camera"], horizontal=True, key=f"{key}_source")
    if source == "Sample":
        names = list(SAMPLES)
        sample_key = f"{key}_sample"
        name = st.selectbox(
            "Sample picture",
            names,
            # A page may seed the choice through session state (e.g. from the URL); then no index is given.
            index=(
                None if sample_key in st.session_state
                else names.index(default_sample) if default_sample in names
                else 0
            ),
            format_func=lambda n: f"{n} — {SAMPLES[n]}",
            key=sample_key,
        )
        return _cached_sample(name or names[0], max_side)
    if source == "Camera":  # a live shot is a JPEG upload: the same checks and normalisation
        upload = st.camera_input("Take a picture", key=f"{key}_camera")
    else:
        upload = st.file_uploader(
            "Upload a picture (PNG, JPEG, WebP, BMP, TIFF, GIF)", type=UPLOAD_TYPES, key=f"{key}_upload",
            help=f"At most {budget.IMAGE_UPLOAD_BYTES / 2**20:.0f} MB and {budget.IMAGE_MAX_PIXELS / 1e6:.0f} "
                 f"megapixels; pictures that would need more than {budget.IMAGE_DECODE_BYTES / 2**20:.0f} MiB to "
                 "decode are refused (JPEG is decoded at a reduced scale first). Large photos are shrunk for the page.",
        )
    if upload is None:
        st.info(f"{'Take a picture' if source == 'Camera' else 'Choose a file to upload'}, or switch back to a "
                "sample.")
        return None
    try:
        image = _cached_upload(upload.getvalue(), max_side)
    except ImageInputError as exc:
        st.error(f"Cannot use **{escape_markdown(upload.name)}**: {exc}")
        return None
    for note in image.notes:
        st.caption(note)
    return image
