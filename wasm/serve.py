#!/usr/bin/env python3
"""Serves the workbench page on 127.0.0.1 (never other interfaces).

    python3 wasm/serve.py DIR [--port N]      (default: $PORT, else 8000)

Adds the headers that make the page cross-origin isolated, which the
browser requires before it gives WebAssembly threads shared memory
(the app evaluates on worker threads), and serves .wasm as application/wasm.
"""
import argparse
import functools
import http.server
import os
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".wasm": "application/wasm", ".js": "text/javascript",
                      ".json": "application/json", "": "application/octet-stream"}

    def end_headers(self):
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, fmt, *args):  # quiet unless asked
        if os.environ.get("DMC_SERVE_LOG"):
            super().log_message(fmt, *args)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dir")
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
    a = p.parse_args()
    if not os.path.isfile(os.path.join(a.dir, "index.html")):
        sys.exit(f"serve: no index.html in {a.dir}: build the web app first (make web)")
    handler = functools.partial(Handler, directory=a.dir)
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    with http.server.ThreadingHTTPServer(("127.0.0.1", a.port), handler) as httpd:
        print(f"Deep MicroCompression Workbench: http://127.0.0.1:{httpd.server_address[1]}/", flush=True)
        print("(Ctrl-C stops the server)", flush=True)
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
