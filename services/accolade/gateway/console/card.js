// <accolade-agent-card>: an agent's badges, level, XP and progress, with new awards live.
//
//   <script src="https://GATEWAY/console/v1/card.js"></script>
//   <accolade-agent-card token="acs_..."></accolade-agent-card>
//
// The token is an agent session token your server mints with CreateAgentSession (never
// a long-lived key). The card talks to the gateway its script came from, or to the one
// its `gateway` attribute names. Its language follows the nearest `lang` attribute
// (English, or Chinese for zh-*). When the token is refused it fires
// `accolade-session-expired`; set a new `token` and it carries on where it was.
(() => {
  "use strict";

  const SCRIPT_ORIGIN = (() => {
    try {
      return new URL(document.currentScript.src).origin;
    } catch (_) {
      return window.location.origin;
    }
  })();

  // How many goals ("N more for ...") the card lists: the nearest ones.
  const MAX_GOALS = 5;
  const TEXT = {
    en: {
      title: "My recognition",
      level: (n, name) => (name ? `Level ${n} · ${name}` : `Level ${n}`),
      noLevel: "No level yet",
      xp: (xp) => `${xp.toLocaleString("en")} XP`,
      toNext: (n) => `${n.toLocaleString("en")} XP to the next level`,
      badges: "Badges",
      noBadges: "No badges yet: your first one is on its way.",
      tier: (t) => `${t} tier`,
      progress: "Next badges",
      more: (n, name, tier) => `${n} more for ${name}${tier ? ` (${tier})` : ""}`,
      needs: (name) => `Needs ${name} first`,
      onTrack: (name, tier) => `On track for ${name}${tier ? ` (${tier})` : ""}`,
      live: "Live",
      connecting: "Connecting…",
      reconnecting: "Reconnecting…",
      expired: "Session ended: reload to continue",
      newBadge: (name, tier) => `New badge: ${name}${tier ? ` (${tier})` : ""}!`,
      newLevel: (n, name) => `Level up: ${n}${name ? ` · ${name}` : ""}!`,
      challengeDone: (name) => `Challenge complete: ${name}!`,
      dismiss: "Dismiss",
      awarded: (d) => `awarded ${d.toLocaleDateString("en")}`,
    },
    zh: {
      title: "我的荣誉",
      level: (n, name) => (name ? `等级 ${n} · ${name}` : `等级 ${n}`),
      noLevel: "尚无等级",
      xp: (xp) => `${xp.toLocaleString("zh-CN")} 经验值`,
      toNext: (n) => `距下一级还差 ${n.toLocaleString("zh-CN")} 经验值`,
      badges: "徽章",
      noBadges: "还没有徽章：第一枚即将到来。",
      tier: (t) => `${t} 级`,
      progress: "下一枚徽章",
      more: (n, name, tier) => `再完成 ${n} 即可获得「${name}」${tier ? `（${tier}）` : ""}`,
      needs: (name) => `需先获得「${name}」`,
      onTrack: (name, tier) => `有望获得「${name}」${tier ? `（${tier}）` : ""}`,
      live: "实时",
      connecting: "正在连接…",
      reconnecting: "正在重新连接…",
      expired: "会话已结束：请刷新页面",
      newBadge: (name, tier) => `获得新徽章：「${name}」${tier ? `（${tier}）` : ""}！`,
      newLevel: (n, name) => `升级啦：等级 ${n}${name ? ` · ${name}` : ""}！`,
      challengeDone: (name) => `挑战完成：「${name}」！`,
      dismiss: "关闭",
      awarded: (d) => `获得于 ${d.toLocaleDateString("zh-CN")}`,
    },
  };

  const STYLE = `
    :host { display: block; font: 14px/1.4 system-ui, sans-serif; color: #1d2433;
            max-width: 28rem; }
    .card { border: 1px solid #d5dae3; border-radius: 10px; padding: 12px 14px;
            background: #fff; position: relative; }
    header { display: flex; justify-content: space-between; align-items: baseline; gap: 8px; }
    h2 { font-size: 16px; margin: 0; }
    h3 { font-size: 13px; margin: 12px 0 4px; color: #4a5468; text-transform: uppercase;
         letter-spacing: .04em; }
    .status { font-size: 12px; color: #4a5468; }
    .status[data-state="live"]::before { content: "●"; color: #1a7f37; margin-right: 4px; }
    .level { margin: 6px 0 2px; font-weight: 600; }
    .xpbar { width: 100%; height: 8px; }
    ul { list-style: none; margin: 0; padding: 0; }
    .badges { display: flex; flex-wrap: wrap; gap: 6px; }
    .badge { border-radius: 999px; padding: 3px 10px; background: #eef2fb; border: 1px solid #c9d3ea; }
    .badge:focus, button:focus, .goal:focus { outline: 3px solid #3b6fd8; outline-offset: 2px; }
    .badge.fresh { animation: pop 1.2s ease-out; background: #fff4cc; border-color: #e0b400; }
    .goal { margin: 4px 0; }
    .goal progress { width: 100%; height: 6px; }
    .empty { color: #4a5468; }
    .toast { position: absolute; inset: auto 8px 8px 8px; background: #1d2433; color: #fff;
             border-radius: 8px; padding: 10px 12px; display: flex; gap: 8px;
             align-items: center; justify-content: space-between; animation: rise .4s ease-out; }
    .toast[hidden] { display: none; }
    .toast button { background: transparent; color: #fff; border: 1px solid #fff6;
                    border-radius: 6px; padding: 2px 8px; cursor: pointer; font: inherit; }
    .burst { position: absolute; inset: 0; pointer-events: none; overflow: hidden; border-radius: 10px; }
    .burst i { position: absolute; top: 40%; left: 50%; width: 8px; height: 8px; border-radius: 2px;
               animation: fly 1.1s ease-out forwards; }
    .sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
    @keyframes pop { 0% { transform: scale(.6); } 50% { transform: scale(1.15); } 100% { transform: scale(1); } }
    @keyframes rise { from { transform: translateY(12px); opacity: 0; } to { transform: none; opacity: 1; } }
    @keyframes fly { to { transform: translate(var(--dx), var(--dy)) rotate(300deg); opacity: 0; } }
    @media (prefers-reduced-motion: reduce) {
      .badge.fresh, .toast, .burst i { animation: none; }
      .burst { display: none; }
    }
  `;

  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v !== undefined && v !== null) node.setAttribute(k, String(v));
    }
    for (const c of children) node.append(c);
    return node;
  };

  class AccoladeAgentCard extends HTMLElement {
    static get observedAttributes() {
      return ["token", "gateway", "lang"];
    }

    constructor() {
      super();
      this.attachShadow({ mode: "open" });
      this.lastSequence = null; // the last notification shown: the stream resumes after it
      this._badges = new Map(); // "badge/tier" -> AgentBadge
      this._fresh = new Set();
      this._state = { xp: 0, level: 0, levelName: "", nextLevelXp: 0, progress: [] };
      this._status = "connecting";
      this._run = 0; // bumped to stop what a previous token started
      this._refresh = null;
    }

    connectedCallback() {
      this._start();
    }

    disconnectedCallback() {
      this._stop();
    }

    attributeChangedCallback(name, before, after) {
      if (before === after || !this.isConnected) return;
      if (name === "lang") this._render();
      else this._start();
    }

    get gateway() {
      return (this.getAttribute("gateway") || SCRIPT_ORIGIN).replace(/\/$/, "");
    }

    get token() {
      return this.getAttribute("token") || "";
    }

    set token(value) {
      this.setAttribute("token", value);
    }

    get _lang() {
      const holder = this.closest("[lang]");
      return (holder && holder.getAttribute("lang")) || navigator.language || "en";
    }

    get _t() {
      return this._lang.toLowerCase().startsWith("zh") ? TEXT.zh : TEXT.en;
    }

    _stop() {
      this._run += 1;
      if (this._abort) this._abort.abort();
      this._abort = null;
    }

    async _start() {
      this._stop();
      const run = this._run;
      this._render();
      if (!this.token) return;
      let delay = 500;
      while (run === this._run) {
        this._abort = new AbortController();
        let outcome;
        try {
          if (this.lastSequence === null) await this._snapshot(run);
          outcome = await this._stream(run);
          delay = 500; // it was up: the next failure is a new one
        } catch (err) {
          // 401: the session ended; 403: not an agent's token. Either way retrying
          // cannot help: the page must give the card a new session token.
          outcome = err && (err.status === 401 || err.status === 403) ? "expired" : "retry";
        }
        if (run !== this._run) return;
        if (outcome === "expired") {
          this._setStatus("expired");
          this.dispatchEvent(
            new CustomEvent("accolade-session-expired", { bubbles: true, composed: true })
          );
          return;
        }
        this._setStatus("reconnecting");
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 10000);
      }
    }

    async _get(path, extra = {}) {
      const response = await fetch(this.gateway + path, {
        headers: { Authorization: `Bearer ${this.token}`, ...extra },
        cache: "no-store",
        signal: this._abort.signal,
      });
      if (!response.ok) {
        const err = new Error(`${path}: HTTP ${response.status}`);
        err.status = response.status;
        throw err;
      }
      return response;
    }

    async _snapshot(run) {
      const snap = await (await this._get("/console/v1/agent")).json();
      if (run !== this._run) return;
      this._badges = new Map(snap.badges.map((b) => [`${b.badgeId}/${b.tierId || ""}`, b]));
      this._state = {
        xp: Number(snap.xp || 0),
        level: snap.level || 0,
        levelName: snap.levelName || "",
        nextLevelXp: Number(snap.nextLevelXp || 0),
        progress: snap.progress || [],
      };
      if (this.lastSequence === null) this.lastSequence = Number(snap.sequence || 0);
      this._render();
    }

    // Reads the event stream until it ends; resolves "retry" so the card reconnects.
    async _stream(run) {
      const headers = { Accept: "text/event-stream" };
      if (this.lastSequence !== null) headers["Last-Event-ID"] = String(this.lastSequence);
      const response = await this._get("/console/v1/stream", headers);
      this._setStatus("live");
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done || run !== this._run) return "retry";
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          this._message(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
        }
      }
    }

    _message(block) {
      let id = null;
      let kind = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const [field, ...rest] = line.split(":");
        const value = rest.join(":").replace(/^ /, "");
        if (field === "id") id = Number(value);
        else if (field === "event") kind = value;
        else if (field === "data") data.push(value);
      }
      if (kind !== "notification" || id === null) return;
      if (this.lastSequence !== null && id <= this.lastSequence) return; // seen already
      this.lastSequence = id;
      this._notify(JSON.parse(data.join("\n")));
    }

    _notify(envelope) {
      const t = this._t;
      let said = null;
      if (envelope.badgeAwarded) {
        const b = envelope.badgeAwarded;
        const key = `${b.badgeId}/${b.tierId || ""}`;
        if (!this._badges.has(key)) this._state.xp += Number(b.xp || 0);
        this._badges.set(key, { ...b, awardedAt: envelope.occurredAt });
        this._fresh.add(key);
        said = t.newBadge(b.name, b.tierId);
      } else if (envelope.levelReached) {
        const l = envelope.levelReached;
        this._state.level = l.level;
        this._state.levelName = l.name || "";
        this._state.xp = Math.max(this._state.xp, Number(l.xp || 0));
        said = t.newLevel(l.level, l.name);
      } else if (envelope.challengeCompleted) {
        said = t.challengeDone(envelope.challengeCompleted.name);
      }
      this.dispatchEvent(
        new CustomEvent("accolade-notification", { detail: envelope, bubbles: true, composed: true })
      );
      this._render();
      if (said) this._celebrate(said);
      // Progress and the next level move with each award: read them again, once a burst ends.
      clearTimeout(this._refresh);
      const run = this._run;
      this._refresh = setTimeout(() => this._snapshot(run).catch(() => {}), 400);
    }

    _setStatus(status) {
      this._status = status;
      const node = this.shadowRoot.querySelector(".status");
      if (node) {
        node.dataset.state = status;
        node.textContent = this._t[status];
      }
    }

    _celebrate(text) {
      const root = this.shadowRoot;
      root.querySelector(".announce").textContent = text;
      const toast = root.querySelector(".toast");
      toast.querySelector("span").textContent = text;
      toast.hidden = false;
      this.dataset.celebrating = "true";
      const burst = root.querySelector(".burst");
      burst.replaceChildren();
      const colors = ["#e0b400", "#3b6fd8", "#1a7f37", "#d1242f", "#8250df"];
      for (let i = 0; i < 18; i++) {
        const bit = el("i");
        const angle = (i / 18) * 2 * Math.PI;
        bit.style.setProperty("--dx", `${Math.cos(angle) * 140}px`);
        bit.style.setProperty("--dy", `${Math.sin(angle) * 90}px`);
        bit.style.background = colors[i % colors.length];
        burst.append(bit);
      }
      clearTimeout(this._toastTimer);
      this._toastTimer = setTimeout(() => this._dismiss(), 6000);
    }

    _dismiss() {
      const toast = this.shadowRoot.querySelector(".toast");
      if (toast) toast.hidden = true;
      delete this.dataset.celebrating;
    }

    // The parts that stay while the rest is drawn again: the live region (a screen
    // reader announces changes to a region it already knows), the toast and the burst.
    _frame() {
      const root = this.shadowRoot;
      if (root.querySelector(".card")) return;
      const dismiss = el("button", { type: "button", class: "dismiss" });
      dismiss.addEventListener("click", () => this._dismiss());
      const toast = el("div", { class: "toast" }, el("span"), dismiss);
      toast.hidden = true;
      root.append(
        el("style", {}, STYLE),
        el(
          "section",
          { class: "card" },
          el("div", { class: "body" }),
          el("div", { class: "burst", "aria-hidden": "true" }),
          toast,
          el("div", { class: "announce sr", role: "status", "aria-live": "polite" })
        )
      );
    }

    _render() {
      this._frame();
      const t = this._t;
      const s = this._state;
      const root = this.shadowRoot;
      root.querySelector(".card").setAttribute("aria-label", t.title);
      root.querySelector(".dismiss").textContent = t.dismiss;

      const status = el("span", { class: "status", "data-state": this._status }, t[this._status]);
      const levelText = s.level ? t.level(s.level, s.levelName) : t.noLevel;
      const parts = [el("p", { class: "level" }, levelText), el("p", {}, t.xp(s.xp))];
      if (s.nextLevelXp > s.xp) {
        const left = t.toNext(s.nextLevelXp - s.xp);
        parts.push(
          el("progress", { class: "xpbar", max: s.nextLevelXp, value: s.xp, "aria-label": left }),
          el("p", { class: "empty" }, left)
        );
      }

      const badges = el("ul", { class: "badges", "aria-label": t.badges });
      for (const [key, b] of this._badges) {
        const when = b.awardedAt ? `, ${t.awarded(new Date(b.awardedAt))}` : "";
        const label = `${b.name}${b.tierId ? `, ${t.tier(b.tierId)}` : ""}${when}`;
        badges.append(
          el(
            "li",
            {
              class: this._fresh.has(key) ? "badge fresh" : "badge",
              tabindex: 0,
              "aria-label": label,
              "data-badge": b.badgeId,
              "data-tier": b.tierId || "",
              title: b.description || label,
            },
            b.tierId ? `${b.name} · ${b.tierId}` : b.name
          )
        );
      }
      this._fresh.clear();

      const goals = el("ul", { "aria-label": t.progress });
      const names = new Map(s.progress.map((p) => [p.badgeId, p.name]));
      const number = new Intl.NumberFormat(this._lang, { maximumFractionDigits: 2 });
      const share = (p) => Number(p.value || 0) / Number(p.nextThreshold || 1);
      // The nearest few goals: a long list would bury the ones within reach.
      const nearest = s.progress
        .filter((p) => p.nextTierId)
        .sort((a, b) => share(b) - share(a))
        .slice(0, MAX_GOALS);
      for (const p of nearest) {
        const missing = p.missing && p.missing.length ? p.missing[0] : null;
        const remaining = Number(p.remaining || 0);
        // Met but not yet awarded (an average or a window still being decided).
        const text = missing
          ? t.needs(names.get(missing.badge) || missing.badge)
          : remaining > 0
            ? t.more(number.format(remaining), p.name, p.nextTierId)
            : t.onTrack(p.name, p.nextTierId);
        const goal = el("li", { class: "goal", tabindex: 0, "data-goal": p.badgeId }, text);
        const top = Number(p.nextThreshold || 1);
        goal.append(
          el("progress", { max: top, value: Math.min(Number(p.value || 0), top), "aria-label": text })
        );
        goals.append(goal);
      }

      root.querySelector(".body").replaceChildren(
        el("header", {}, el("h2", {}, t.title), status),
        ...parts,
        el("h3", {}, t.badges),
        this._badges.size ? badges : el("p", { class: "empty" }, t.noBadges),
        el("h3", {}, t.progress),
        goals
      );
    }
  }

  if (!customElements.get("accolade-agent-card")) {
    customElements.define("accolade-agent-card", AccoladeAgentCard);
  }
})();
