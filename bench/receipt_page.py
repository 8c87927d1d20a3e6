"""A static test page for `service/static/receipt.js`, served on 127.0.0.1.

The page loads the script and the files it is given (receipts and keys, as JSON) from
the same server; `run(name)` in the page verifies the receipt `name` with the keys in
`keys.json` and renders the outcome into `#outcome`. Used by the browser test and B11.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

#: How the browser tests start Debian's chromium (as tests/public/test_pages_browser.py).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCRIPT = resources.files("service").joinpath("static", "receipt.js")

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>receipt check</title>
<script src="/receipt.js"></script></head>
<body>
<main><h1>Receipt</h1><div id="outcome" aria-live="polite"></div></main>
<script>
async function load(name) {
  const answer = await fetch("/" + name);
  return answer.json();
}
async function run(name) {
  const [receipt, keys] = await Promise.all([load(name), load("keys.json")]);
  const result = await DocketReceipt.verify(receipt, keys.log, keys.witnesses, keys.quorum);
  const words = DocketReceipt.render(document.getElementById("outcome"), result);
  const {ok, complete, failures, milliseconds} = result;
  return {ok, complete, failures, words, ms: milliseconds};
}
async function timed(name, rounds) {
  const [receipt, keys] = await Promise.all([load(name), load("keys.json")]);
  const times = [];
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    const copy = JSON.parse(JSON.stringify(receipt));
    const result = await DocketReceipt.verify(copy, keys.log, keys.witnesses, keys.quorum);
    DocketReceipt.render(document.getElementById("outcome"), result);
    if (!result.ok) throw new Error("the receipt did not verify");
    times.push(performance.now() - started);
  }
  return times;
}
</script>
</body>
</html>
"""


#: A page as the request page would use the script: one element names the receipt.
CHECKED_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>receipt check</title></head>
<body>
<div id="outcome" data-docket-receipt="/{receipt}" data-log-key="/log-key.txt"
     data-witnesses="/witnesses.json"></div>
<script src="/receipt.js"></script>
</body>
</html>
"""


@contextmanager
def serve(files: Mapping[str, bytes]) -> Iterator[str]:
    """Serve the page at `/`, the script at `/receipt.js`, `files` by name, and at
    `/check/<name>` a page whose element names `/<name>` as its receipt; yields the base
    URL."""
    content = {
        "/": (PAGE.encode(), "text/html; charset=utf-8"),
        "/receipt.js": (SCRIPT.read_bytes(), "text/javascript; charset=utf-8"),
    }
    for name, body in files.items():
        content["/" + name] = (body, "application/json")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            found = content.get(path)
            if found is None and path.startswith("/check/"):
                page = CHECKED_PAGE.format(receipt=path.removeprefix("/check/"))
                found = (page.encode(), "text/html; charset=utf-8")
            if found is None:
                self.send_error(404)
                return
            body, kind = found
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
