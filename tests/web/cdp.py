"""A minimal Chrome DevTools Protocol driver for Debian's headless ``chromium``.

Starts ``chromium --headless=new --remote-debugging-port=0`` with a throwaway profile, reads
the port from ``DevToolsActivePort`` and talks to the first page over aiohttp's websocket
client. Enough to navigate, run JavaScript, wait for page loads and take screenshots.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Page:
    """One browser tab driven over CDP."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Wrap an open page websocket."""
        self._ws = ws
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.dialogs: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self._ws:
            data = json.loads(msg.data)
            if "id" in data:
                future = self._waiting.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
            else:
                if data.get("method") == "Page.javascriptDialogOpening":
                    self.dialogs.append(data["params"].get("message", ""))
                    await self.send("Page.handleJavaScriptDialog", accept=True, wait=False)
                await self.events.put(data)

    async def send(self, method: str, *, wait: bool = True, **params: Any) -> dict[str, Any]:
        """Call a CDP method; its result."""
        msg_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[msg_id] = future
        await self._ws.send_json({"id": msg_id, "method": method, "params": params})
        if not wait:
            return {}
        reply = await asyncio.wait_for(future, 20)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def wait_for(self, method: str, seconds: float = 20) -> dict[str, Any]:
        """The next event called ``method``."""
        async with asyncio.timeout(seconds):
            while True:
                event = await self.events.get()
                if event.get("method") == method:
                    return event

    def _drain(self) -> None:
        while not self.events.empty():
            self.events.get_nowait()

    async def goto(self, url: str) -> None:
        """Navigate and wait for the load event."""
        self._drain()
        await self.send("Page.navigate", url=url)
        await self.wait_for("Page.loadEventFired")

    async def eval(self, expression: str) -> Any:
        """Evaluate JavaScript in the page; its JSON value."""
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"JS error: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def submit(self, script: str) -> None:
        """Run ``script`` (which submits a form) and wait for the next page to load."""
        self._drain()
        await self.eval(script)
        await self.wait_for("Page.loadEventFired")

    async def screenshot(self, path: Path) -> Path:
        """Save a full-page PNG screenshot."""
        shot = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))
        return path

    async def close(self) -> None:
        """Stop reading and close the websocket."""
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self._ws.close()


@contextlib.asynccontextmanager
async def browser(profile: Path) -> AsyncIterator[Page]:
    """A headless chromium with one page, stopped (and its process reaped) afterwards."""
    if CHROMIUM is None:
        raise RuntimeError("chromium is not installed (apt-get install chromium)")
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless=new",
        "--no-sandbox",  # CI runs as root in a container, where the sandbox cannot start
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--remote-debugging-port=0",
        "--remote-debugging-address=127.0.0.1",
        f"--user-data-dir={profile}",
        "--window-size=1280,1000",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        async with asyncio.timeout(30):
            # Chromium writes the file when it listens; there is nothing to wait on but it.
            while not port_file.exists() or not port_file.read_text().strip():  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json()
            url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
            ws = await http.ws_connect(url, max_msg_size=64 * 1024 * 1024)
            page = Page(ws)
            try:
                await page.send("Page.enable")
                await page.send("Runtime.enable")
                yield page
            finally:
                await page.close()
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
