"""A sample agent desktop: the page a contact center would embed the console card in.

It plays the contact center's own web server: it holds the integration key (the page
never sees it), mints a short-lived agent session for the agent the page is for, and
serves a page with one `<script>` tag and one `<accolade-agent-card>` element. When the
card says its session ended, the page asks this server for a new one.

    GET /?agent=ana.silva&lang=zh-CN   the page
    GET /session?agent=ana.silva       {"token": ..., "expiresAt": ...} for the page's card
"""

from __future__ import annotations

import asyncio
import html
import json
import threading
from concurrent.futures import Future

import grpc

from accolade import clients
from accolade.runtime.http import HttpServer, Request, Response
from accolade.runtime.validation import Violations
from accolade.v1 import gateway_service_pb2 as gw
from accolade.v1 import gateway_service_pb2_grpc as gw_grpc

SESSION_SECONDS = 3600
LANGS = {"en": "English", "zh-CN": "中文"}

PAGE = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
  body {{ font: 15px/1.5 system-ui, sans-serif; margin: 0; background: #f4f6fa; color: #1d2433; }}
  header {{ background: #1d2433; color: #fff; padding: 10px 18px; display: flex; gap: 16px;
            align-items: center; justify-content: space-between; }}
  header a {{ color: #cfe0ff; }}
  main {{ display: grid; grid-template-columns: 1fr 22rem; gap: 18px; padding: 18px; }}
  .queue {{ background: #fff; border: 1px solid #d5dae3; border-radius: 10px; padding: 14px; }}
</style>
</head>
<body>
<header>
  <strong>{title}</strong>
  <nav aria-label="{switch}">{agents} · {langs}</nav>
</header>
<main>
  <section class="queue" aria-label="{work}">
    <h1>{greeting}</h1>
    <p>{hint}</p>
  </section>
  <aside>
    <script src="{gateway}/console/v1/card.js"></script>
    <accolade-agent-card id="card" gateway="{gateway}" token="{token}"></accolade-agent-card>
  </aside>
</main>
<script>
  // The card's session ended: ask our own server for a new one (it holds the key).
  document.getElementById("card").addEventListener("accolade-session-expired", async (e) => {{
    const answer = await fetch("/session?agent=" + encodeURIComponent({agent_json}));
    if (answer.ok) e.target.token = (await answer.json()).token;
  }});
</script>
</body>
</html>
"""

TEXT = {
    "en": {
        "title": "Agent desktop (Accolade sample)",
        "switch": "Agent and language",
        "work": "Your work",
        "greeting": "Hello, {agent}",
        "hint": "Your queue would be here. Your recognition is on the right, live: run "
        "`accolade demo` and watch your badges arrive.",
    },
    "zh-CN": {
        "title": "坐席工作台（Accolade 示例）",
        "switch": "坐席与语言",
        "work": "您的工作",
        "greeting": "您好，{agent}",
        "hint": "这里是您的来电队列。右侧是您的实时荣誉：运行 `accolade demo`，即可看到徽章实时到来。",
    },
}


def _script_literal(value: str) -> str:
    """value as a JavaScript string literal that is safe inside a <script> element.

    HTML escaping is wrong there (the browser does not decode it in a script), so the
    characters that could end the element or start markup are escaped for JavaScript.
    """
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class SampleDesktop:
    """Serves the sample page on its own thread and event loop, for `accolade up`."""

    def __init__(
        self,
        gateway_grpc: str,
        gateway_console: str,
        integration_key: str,
        agents: tuple[str, ...],
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._gateway_grpc = gateway_grpc
        self.gateway_console = gateway_console.rstrip("/")
        self._key = integration_key
        self.agents = agents
        self._host = host
        self._port = port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: HttpServer | None = None
        self._channel: grpc.aio.Channel | None = None
        self.port = 0

    def url(self, agent: str | None = None, lang: str = "en") -> str:
        query = f"?agent={agent or self.agents[0]}" + ("" if lang == "en" else f"&lang={lang}")
        return f"http://{self._host}:{self.port}/{query}"

    def start(self) -> int:
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self.port

    async def _start(self) -> int:
        self._channel = clients.channel(self._gateway_grpc, self._key)
        self._server = HttpServer(self.handle, self._host, self._port)
        return await self._server.start()

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        done: Future[None] = asyncio.run_coroutine_threadsafe(self._close(), self._loop)
        done.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()

    async def _close(self) -> None:
        if self._server is not None:
            await self._server.close()
        if self._channel is not None:
            await self._channel.close()

    async def _session(self, agent: str) -> gw.CreateAgentSessionResponse:
        if self._channel is None:
            raise RuntimeError("the sample desktop is not started")
        stub = gw_grpc.GatewayServiceStub(self._channel)
        session: gw.CreateAgentSessionResponse = await stub.CreateAgentSession(
            gw.CreateAgentSessionRequest(agent_id=agent, ttl_seconds=SESSION_SECONDS), timeout=5
        )
        return session

    async def handle(self, request: Request) -> Response:
        agent = request.query.get("agent", self.agents[0] if self.agents else "")
        v = Violations()
        v.identifier("agent", agent)
        if v.items:
            return Response(400, b"agent: give ?agent=<agent id>\n")
        if request.path not in ("/", "/session"):
            return Response(404, b"not found\n")
        try:
            session = await self._session(agent)
        except grpc.aio.AioRpcError as exc:
            message = f"the gateway made no session: {exc.code().name} {exc.details()}\n"
            return Response(503, message.encode())
        if request.path == "/session":
            body = {"token": session.token, "expiresAt": session.expires_at.ToJsonString()}
            return Response(200, json.dumps(body).encode(), _JSON)
        lang = request.query.get("lang", "en")
        lang = lang if lang in TEXT else "en"
        t = TEXT[lang]
        e = html.escape
        agents = " ".join(
            f'<a href="/?agent={e(a)}&amp;lang={lang}"'
            + (' aria-current="page"' if a == agent else "")
            + f">{e(a)}</a>"
            for a in self.agents
        )
        langs = " ".join(
            f'<a href="/?agent={e(agent)}&amp;lang={k}">{n}</a>' for k, n in LANGS.items()
        )
        page = PAGE.format(
            lang=lang,
            title=e(t["title"]),
            switch=e(t["switch"]),
            work=e(t["work"]),
            greeting=e(t["greeting"].format(agent=agent)),
            hint=e(t["hint"]),
            agents=agents,
            langs=langs,
            gateway=e(self.gateway_console),
            token=e(session.token),
            agent_json=_script_literal(agent),
        )
        return Response(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})


_JSON = {"Content-Type": "application/json", "Cache-Control": "no-store"}
