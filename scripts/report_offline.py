#!/usr/bin/env python3
"""Checks that an HTML page (scripts/report.py's report.html) needs nothing from outside.

    scripts/report_offline.py PAGE.html [--chromium [PATH]]

Static check (standard library only): every URL the page or an SVG embedded in it as a
data: URI refers to — src, href, xlink:href, srcset, action, poster, data, background,
<meta http-equiv=refresh>, CSS url(...) and @import in <style> and style="" — must be a
data: URI or a #fragment. Anything else is reported: http(s):, protocol-relative //host,
and also a relative path, since the page must open alone from wherever it is copied.

With --chromium, the page is also loaded in headless Chromium whose only way out is a
proxy on 127.0.0.1 that records each request and refuses it: a request the static check
missed (from a script, a font, a prefetch) shows up there. Chromium's own background
traffic is switched off by flags, so any request recorded is the page's.

Exit status: 0 nothing found, 1 references or requests found (each printed), 2 the page
cannot be read or Chromium cannot be run.
"""

import argparse
import base64
import html.parser
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.parse

URL_ATTRIBUTES = {"src", "href", "xlink:href", "action", "formaction", "poster", "data", "background", "cite",
                  "manifest", "ping", "longdesc", "codebase", "archive", "icon", "lowsrc", "dynsrc"}
CSS_URL = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.IGNORECASE | re.DOTALL)
CSS_IMPORT = re.compile(r"@import\b", re.IGNORECASE)
REFRESH_URL = re.compile(r"url\s*=\s*['\"]?([^'\";]+)", re.IGNORECASE)


def local(url):
    """A reference that needs nothing outside the page: a data: URI or a #fragment."""
    u = url.strip()
    return u == "" or u.startswith("#") or u.lower().startswith("data:")


class _Collector(html.parser.HTMLParser):
    def __init__(self, where):
        super().__init__(convert_charrefs=True)
        self.where = where
        self.found = []
        self.embedded = []  # (where, decoded data: URI text) of SVG and HTML to check in turn
        self._in_style = False

    def _url(self, tag, name, url):
        if local(url):
            if url.strip().lower().startswith("data:"):
                self._data(tag, name, url.strip())
        else:
            self.found.append(f"{self.where}: <{tag} {name}=\"{url.strip()}\">")

    def _data(self, tag, name, uri):
        head, _, body = uri.partition(",")
        kind = head[5:].split(";")[0].lower()
        if kind not in ("image/svg+xml", "text/html", "text/css"):
            return
        try:
            text = base64.b64decode(body).decode("utf-8", "replace") if ";base64" in head.lower() \
                else urllib.parse.unquote(body)
        except ValueError:
            self.found.append(f"{self.where}: <{tag} {name}=\"data:{kind},…\"> cannot be decoded")
            return
        self.embedded.append((f"{self.where} > {kind} in <{tag} {name}>", text, kind))

    def _css(self, text, what):
        if CSS_IMPORT.search(text):
            self.found.append(f"{self.where}: @import in {what}")
        for m in CSS_URL.finditer(text):
            if not local(m.group(2)):
                self.found.append(f"{self.where}: url({m.group(2).strip()}) in {what}")

    def handle_starttag(self, tag, attrs):
        attrs = [(n.lower(), v or "") for n, v in attrs]
        for name, v in attrs:
            if name in URL_ATTRIBUTES:
                self._url(tag, name, v)
            elif name in ("srcset", "imagesrcset"):
                for candidate in v.split(","):
                    parts = candidate.split()
                    if parts:
                        self._url(tag, name, parts[0])
            elif name == "style":
                self._css(v, f"<{tag} style>")
        if tag == "meta" and any(n == "http-equiv" and v.lower() == "refresh" for n, v in attrs):
            content = dict(attrs).get("content", "")
            m = REFRESH_URL.search(content)
            if m and not local(m.group(1)):
                self.found.append(f"{self.where}: <meta http-equiv=refresh> to {m.group(1).strip()}")
        self._in_style = tag == "style"

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self._in_style = False

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self._css(data, "<style>")


def external_references(text, where="page", kind="text/html", depth=0):
    """Every reference in `text` (and in the SVG, HTML and CSS it embeds as data: URIs)
    that is not to the page itself, each named with where it is."""
    if kind == "text/css":
        c = _Collector(where)
        c._css(text, "CSS")
        return c.found
    c = _Collector(where)
    c.feed(text)
    c.close()
    found = list(c.found)
    for inner_where, inner, inner_kind in c.embedded:
        if depth >= 4:
            found.append(f"{inner_where}: data: URIs nested too deep to check")
            continue
        found += external_references(inner, inner_where, inner_kind, depth + 1)
    return found


class _Recorder(threading.Thread):
    """A proxy that accepts, records the request line, answers 403 and closes."""

    def __init__(self):
        super().__init__(daemon=True)
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.requests = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    first = conn.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
                except OSError:
                    first = "(no request line)"
                self.requests.append(first or "(empty request)")
                try:
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    pass

    def stop(self):
        self.stopping.set()
        self.join(2)
        self.server.close()


def find_chromium(given=None):
    if given:
        return given if os.path.exists(given) else shutil.which(given)
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium_requests(page, chromium, timeout=90):
    """The requests headless Chromium makes loading `page` (file path), through a
    recording proxy; raises RuntimeError when Chromium does not run."""
    recorder = _Recorder()
    recorder.start()
    profile = tempfile.mkdtemp(prefix="cairn-report-chromium-")
    try:
        args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                f"--user-data-dir={profile}", f"--proxy-server=http://127.0.0.1:{recorder.port}",
                "--proxy-bypass-list=<-loopback>;127.0.0.1:9", "--component-updater=url-source=http://127.0.0.1:9", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-default-apps", "--disable-extensions", "--disable-domain-reliability",
                "--disable-client-side-phishing-detection", "--metrics-recording-only", "--no-pings",
                "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,"
                "CertificateTransparencyComponentUpdater,DialMediaRouteProvider,NetworkTimeServiceQuerying,"
                "AccountConsistency,SigninInterceptBubble,PrivacySandboxSettings4",
                "--no-service-autorun", "--password-store=basic", "--use-mock-keychain", "--disable-field-trial-config",
                "--disable-breakpad", "--allow-pre-commit-input", "--google-base-url=http://127.0.0.1:9",
                "--gaia-url=http://127.0.0.1:9", "--lso-url=http://127.0.0.1:9", "--variations-server-url=http://127.0.0.1:9",
                "--virtual-time-budget=5000", "--dump-dom", "file://" + os.path.abspath(page)]
        try:
            done = subprocess.run(args, capture_output=True, timeout=timeout, text=True)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise RuntimeError(f"{chromium} did not run: {e}") from None
        if done.returncode != 0 or "<html" not in done.stdout.lower():
            raise RuntimeError(f"{chromium} exited {done.returncode} without the page's DOM: {done.stderr.strip()[-400:]}")
    finally:
        recorder.stop()
        shutil.rmtree(profile, ignore_errors=True)
    return recorder.requests


def main(argv=None):
    p = argparse.ArgumentParser(description="Check that an HTML page refers to nothing outside itself.")
    p.add_argument("page")
    p.add_argument("--chromium", nargs="?", const="", default=None,
                   help="also load it in headless Chromium (PATH, or found on PATH) and report any request it makes")
    a = p.parse_args(argv)
    try:
        with open(a.page, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        print(f"error: {a.page}: cannot read it ({e.strerror})", file=sys.stderr)
        return 2
    found = external_references(text, a.page)
    for f in found:
        print(f"external reference: {f}")
    requests = []
    if a.chromium is not None:
        chromium = find_chromium(a.chromium or None)
        if not chromium:
            print(f"error: chromium not found{' at ' + a.chromium if a.chromium else ' on PATH'} "
                  "(apt-get install chromium)", file=sys.stderr)
            return 2
        try:
            requests = chromium_requests(a.page, chromium)
        except RuntimeError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        for r in requests:
            print(f"request made loading {a.page}: {r}")
    if found or requests:
        return 1
    print(f"{a.page}: no external reference" + (", and Chromium made no request loading it" if a.chromium is not None else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
