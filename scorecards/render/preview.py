"""The first page of a scorecard as a small PNG: the preview in the Dagster UI."""

from __future__ import annotations

import io


def first_page_png(pdf: bytes, scale: float = 0.9) -> bytes:
    """The first page as PNG, for the preview in the Dagster UI."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        # A 32-colour palette keeps a preview near 10 KB: the UI stores one per team and month.
        image = doc[0].render(scale=scale).to_pil().convert("RGB").quantize(colors=32)
        buf = io.BytesIO()
        image.save(buf, format="PNG", optimize=True)
        return buf.getvalue()
    finally:
        doc.close()
