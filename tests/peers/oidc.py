"""The OpenID Connect provider peer (``oidc_provider.mjs``) as a subprocess, and a browser's way through it."""

from __future__ import annotations

import json
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin

import requests

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("oidc_provider.mjs")
START_TIMEOUT = 20.0
REPLY_TIMEOUT = 5.0


class ProviderError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class OIDCProvider:
    process: subprocess.Popen[str]
    issuer: str
    client_id: str
    client_secret: str
    log: IO[str]
    configuration: dict[str, Any] = field(default_factory=dict)
    _lines: queue.Queue[str] = field(default_factory=queue.Queue)

    def set_accounts(self, accounts: list[dict[str, Any]]) -> None:
        """Replace the provider's directory, as an administrator editing the realm would."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(accounts) + "\n")
        self.process.stdin.flush()
        self._expect(f"accounts {len(accounts)}", REPLY_TIMEOUT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.log.close()

    def _expect(self, prefix: str, timeout: float) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise ProviderError(f"the OIDC provider did not answer {prefix!r}: {self._stderr()}") from None
        if not line.startswith(prefix):
            raise ProviderError(f"the OIDC provider said {line!r}, expected {prefix!r}: {self._stderr()}")
        return line

    def _stderr(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(encoding="utf-8")[-2000:]


def start_oidc_provider(
    *,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    post_logout_redirect_uri: str,
    accounts: list[dict[str, Any]],
) -> OIDCProvider:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "oidc-provider").is_dir():
        raise ProviderError("the OIDC provider needs Node.js and `npm ci` (make test runs it)")
    port = free_port()
    log = tempfile.NamedTemporaryFile("w+", prefix="oidc-provider-", suffix=".log", encoding="utf-8")  # noqa: SIM115 - closed by stop()
    process = subprocess.Popen(
        [node, str(SCRIPT), str(port)],
        cwd=ROOT,
        env={
            "PATH": str(Path(node).parent),
            "OIDC_CLIENT_ID": client_id,
            "OIDC_CLIENT_SECRET": client_secret,
            "OIDC_REDIRECT_URI": redirect_uri,
            "OIDC_POST_LOGOUT_REDIRECT_URI": post_logout_redirect_uri,
            "OIDC_ACCOUNTS": json.dumps(accounts),
        },
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        encoding="utf-8",
    )
    provider = OIDCProvider(process=process, issuer="", client_id=client_id, client_secret=client_secret, log=log)
    threading.Thread(target=_pump, args=(process.stdout, provider._lines), daemon=True).start()
    try:
        provider.issuer = provider._expect("ready ", START_TIMEOUT).removeprefix("ready ").strip()
        response = requests.get(f"{provider.issuer}/.well-known/openid-configuration", timeout=5)
        response.raise_for_status()
        provider.configuration = response.json()
    except BaseException:
        provider.stop()
        raise
    return provider


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str]


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._by_id: dict[str, Form] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            form = Form(attributes.get("action", ""), attributes.get("method", "get").lower(), {})
            self.forms.append(form)
            if "id" in attributes:
                self._by_id[attributes["id"]] = form
        elif tag in {"input", "button"} and "name" in attributes:
            owner = self._by_id.get(attributes.get("form", "")) or (self.forms[-1] if self.forms else None)
            if owner is not None and (tag == "input" or "value" in attributes):
                owner.fields.setdefault(attributes["name"], attributes.get("value", ""))


def only_form(response: requests.Response) -> Form:
    """The page's single form, its action made absolute, its fields (hidden ones included) pre-filled."""
    parser = _FormParser()
    parser.feed(response.text)
    if len(parser.forms) != 1:
        raise AssertionError(f"expected one form at {response.url}, found {len(parser.forms)}: {response.text[:500]}")
    form = parser.forms[0]
    form.action = urljoin(response.url, form.action or response.url)
    return form


def submit(browser: requests.Session, response: requests.Response, **values: str) -> requests.Response:
    """Fill in and submit the page's form the way a browser would, following the redirects."""
    form = only_form(response)
    data = {**form.fields, **values}
    if form.method == "post":
        return browser.post(form.action, data=data, timeout=10)
    return browser.get(form.action, params=data, timeout=10)
