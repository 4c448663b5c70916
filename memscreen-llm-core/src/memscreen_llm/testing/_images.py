"""Test images without Pillow: a PNG of any size, and a loopback server handing one out."""

from __future__ import annotations

import base64
import http.server
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Pixel = tuple[int, int, int]


def png(width: int, height: int,
        rgb: Pixel | Callable[[int, int], Pixel] = (200, 30, 30)) -> bytes:
    """An RGB PNG of that size, stdlib only: one colour, or `rgb(x, y)` for each pixel."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    if callable(rgb):
        pixel = rgb
        rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width))
                        for y in range(height))
    else:
        rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def data_url(image: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(image).decode()}"


@contextmanager
def image_server(image: bytes, path: str = "/shot.png") -> Iterator[str]:
    """A loopback HTTP server: `path` is `image`, anything else 404. Yields its base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != path:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(image)))
            self.end_headers()
            self.wfile.write(image)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
