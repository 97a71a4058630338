"""Demo identity documents: real (if plain) PNG and PDF files, so the review pages have
something to show, made here rather than shipped as binary files."""

from __future__ import annotations

import struct
import zlib
from datetime import timedelta

from sqlalchemy.orm import Session

from kefu.core.clock import clock, utcnow
from kefu.core.settings import get_settings
from kefu.identity.documents import service as documents
from kefu.identity.models import Customer


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A card-like picture: a coloured frame around a light field with dark stripes."""
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter: none
        for x in range(width):
            frame = x < 8 or y < 8 or x >= width - 8 or y >= height - 8
            stripe = 40 <= x < width - 120 and y % 24 in (0, 1, 2) and 40 <= y < height - 40
            photo = width - 100 <= x < width - 30 and 40 <= y < 130
            if frame:
                row += bytes(rgb)
            elif stripe:
                row += b"\x33\x3d\x4a"
            elif photo:
                row += b"\xb8\xc4\xd0"
            else:
                row += b"\xf4\xf1\xe8"
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


def _pdf(lines: list[str]) -> bytes:
    """A one-page PDF with a few lines of Helvetica text and a correct cross-reference table."""
    text = (
        "BT /F1 14 Tf 72 760 Td 18 TL "
        + " ".join(
            "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") '"
            for line in lines
        )
        + " ET"
    )
    stream = text.encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


_FRAMES = ((0x0B, 0x5C, 0xAD), (0xB4, 0x23, 0x18), (0x06, 0x76, 0x47))


def create_identity_reviews(session: Session, customers: list[Customer]) -> int:
    """A few customers submitted documents in the last days; their reviews are waiting."""
    settings = get_settings()
    now = utcnow()
    submitted = 0
    for index, customer in enumerate(customers[:3]):
        clock.freeze(now - timedelta(days=3 - index, hours=index * 2))
        documents.upload_document(
            session,
            settings,
            customer,
            kind="passport" if index % 2 == 0 else "id_card",
            data=_png(360, 230, _FRAMES[index]),
            declared_type="image/png",
            filename="scan.png",
        )
        documents.upload_document(
            session,
            settings,
            customer,
            kind="proof_of_address",
            # Helvetica has no CJK glyphs: the exchange's user id names the customer.
            data=_pdf(
                [
                    "Utility bill (demo)",
                    f"Account {customer.external_id}",
                    f"Jurisdiction {customer.jurisdiction}",
                ]
            ),
            declared_type="application/pdf",
            filename="bill.pdf",
        )
        documents.submit_review(session, customer)
        submitted += 1
    clock.unfreeze()
    return submitted
