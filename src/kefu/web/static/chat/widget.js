/*
 * kefu chat widget. Embed with one tag:
 *
 *   <script src="https://support.example/static/chat/widget.js" defer
 *           data-kefu-token="<customer token signed by the exchange>"
 *           data-kefu-language="zh-CN"></script>
 *
 * or leave out data-kefu-token, add data-kefu-manual, and call
 *   window.KefuChat.init({ token: "...", language: "en" })
 * once the page has a token (window.KefuChat.setToken(t) hands over a fresh one later).
 *
 * Vanilla JS, no build step, no inline script or style (strict CSP): the widget lives in a
 * shadow root with its own stylesheet link. The token travels in the socket's first frame,
 * never in the URL. Messages not yet acknowledged are kept (also across a reload, in
 * sessionStorage) and resent with the same client id, so the server stores each once;
 * after a reconnect the widget asks for everything after the last sequence number it saw.
 */
(function () {
  "use strict";
  if (window.KefuChat && window.KefuChat.version) {
    return;
  }

  var STRINGS = {
    en: {
      open: "Chat with support",
      close: "Close chat",
      title: "Support chat",
      input: "Your message",
      send: "Send",
      connecting: "Connecting…",
      connected: "Connected",
      reconnecting: "Connection lost. Reconnecting in %s s…",
      offline: "Offline: your messages will be sent when the connection is back.",
      expired: "Your session has expired. Sign in to the exchange again to continue.",
      refused: "This page may not open the support chat.",
      code: "Support code",
      codeHelp: "Check this code in the exchange app: only our real support can show it.",
      withBot: "You are chatting with the kefu assistant.",
      queued: "Waiting for a support agent (request %s).",
      agent: "Verified support agent",
      anonymous: "You are not signed in: the assistant can answer general questions only. Sign in to the exchange for help with your account.",
      typingAgent: "%s is typing…",
      typingSomeone: "Support is typing…",
      you: "You",
      bot: "Assistant",
      system: "kefu",
      sending: "sending…",
      failed: "not sent",
      log: "Conversation",
    },
    "zh-CN": {
      open: "联系客服",
      close: "关闭聊天",
      title: "在线客服",
      input: "您的消息",
      send: "发送",
      connecting: "正在连接…",
      connected: "已连接",
      reconnecting: "连接已断开，%s 秒后重新连接…",
      offline: "当前离线：连接恢复后会自动发送您的消息。",
      expired: "您的登录已过期。请重新登录交易所后继续。",
      refused: "此页面无权打开客服聊天。",
      code: "客服验证码",
      codeHelp: "请在交易所 App 中核对此验证码：只有我们真正的客服才能出示。",
      withBot: "您正在与 kefu 智能助手对话。",
      queued: "正在等待客服人员接入（工单 %s）。",
      agent: "已验证的客服人员",
      anonymous: "您尚未登录：助手只能回答一般问题。如需账户相关帮助，请先登录交易所。",
      typingAgent: "%s 正在输入…",
      typingSomeone: "客服正在输入…",
      you: "您",
      bot: "智能助手",
      system: "kefu",
      sending: "发送中…",
      failed: "未发送",
      log: "对话记录",
    },
  };

  var script = document.currentScript;
  var dataset = (script && script.dataset) || {};
  var scriptOrigin = script && script.src ? new URL(script.src, location.href).origin : location.origin;

  function pickLanguage(value) {
    var v = String(value || "").toLowerCase();
    return v.indexOf("zh") === 0 ? "zh-CN" : v.indexOf("en") === 0 ? "en" : null;
  }

  function fmt(text, value) {
    return text.replace("%s", value);
  }

  function newClientId() {
    if (window.crypto && window.crypto.randomUUID) {
      return window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function Widget(options) {
    this.server = (options.server || dataset.kefuServer || scriptOrigin).replace(/\/$/, "");
    this.token = options.token || null;
    this.language =
      pickLanguage(options.language) ||
      pickLanguage(dataset.kefuLanguage) ||
      pickLanguage(document.documentElement.lang) ||
      pickLanguage(navigator.language) ||
      "en";
    this.t = STRINGS[this.language];
    this.lastSeq = 0;
    this.conversationId = null;
    this.mode = null;
    this.socket = null;
    this.attempt = 0;
    this.stopped = false;
    this.retryTimer = null;
    this.typingTimer = null;
    this.typingSentAt = 0;
    this.agentTypingTimer = null;
    this.storageKey = "kefu-chat-pending:" + (this.token ? this.token.split(".")[0] : "anon");
    this.pending = this.loadPending();
    this.bubbles = {};
    this.build();
    this.connect();
  }

  Widget.prototype.loadPending = function () {
    try {
      var stored = JSON.parse(window.sessionStorage.getItem(this.storageKey) || "[]");
      return Array.isArray(stored) ? stored : [];
    } catch (e) {
      return [];
    }
  };

  Widget.prototype.savePending = function () {
    try {
      window.sessionStorage.setItem(this.storageKey, JSON.stringify(this.pending));
    } catch (e) {
      /* private mode: kept in memory only */
    }
  };

  Widget.prototype.build = function () {
    var t = this.t;
    var host = el("div", "kefu-chat-host");
    host.setAttribute("data-kefu-chat", "");
    document.body.appendChild(host);
    var root = host.attachShadow({ mode: "open" });
    this.root = root;
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = this.server + "/static/chat/widget.css";
    root.appendChild(link);

    var wrapper = el("div", "kefu");
    wrapper.lang = this.language;
    root.appendChild(wrapper);

    this.launcher = el("button", "kefu-launcher", t.open);
    this.launcher.type = "button";
    this.launcher.setAttribute("aria-expanded", "false");
    this.launcher.setAttribute("aria-controls", "kefu-panel");
    wrapper.appendChild(this.launcher);

    var panel = el("section", "kefu-panel");
    panel.id = "kefu-panel";
    panel.hidden = true;
    panel.setAttribute("aria-labelledby", "kefu-title");
    this.panel = panel;
    wrapper.appendChild(panel);

    var header = el("header", "kefu-header");
    var title = el("h2", "kefu-title", t.title);
    title.id = "kefu-title";
    this.closeButton = el("button", "kefu-close", "×");
    this.closeButton.type = "button";
    this.closeButton.setAttribute("aria-label", t.close);
    header.appendChild(title);
    header.appendChild(this.closeButton);
    panel.appendChild(header);

    var identity = el("div", "kefu-identity");
    this.codeBox = el("p", "kefu-code");
    this.codeBox.hidden = true;
    this.codeLabel = el("span", "kefu-code-label", t.code + " ");
    this.codeValue = el("strong", "kefu-code-value");
    this.codeValue.setAttribute("data-kefu-code", "");
    this.codeBox.appendChild(this.codeLabel);
    this.codeBox.appendChild(this.codeValue);
    this.codeHelp = el("span", "kefu-code-help", t.codeHelp);
    this.codeBox.appendChild(this.codeHelp);
    this.who = el("p", "kefu-who");
    this.who.setAttribute("data-kefu-who", "");
    identity.appendChild(this.codeBox);
    identity.appendChild(this.who);
    panel.appendChild(identity);

    this.status = el("p", "kefu-status", t.connecting);
    this.status.setAttribute("role", "status");
    panel.appendChild(this.status);

    this.log = el("div", "kefu-log");
    this.log.setAttribute("role", "log");
    this.log.setAttribute("aria-live", "polite");
    this.log.setAttribute("aria-label", t.log);
    this.log.tabIndex = 0;
    panel.appendChild(this.log);

    this.typing = el("p", "kefu-typing");
    this.typing.setAttribute("aria-live", "polite");
    panel.appendChild(this.typing);

    var form = el("form", "kefu-form");
    var label = el("label", "kefu-label", t.input);
    label.htmlFor = "kefu-input";
    this.input = el("textarea", "kefu-input");
    this.input.id = "kefu-input";
    this.input.rows = 2;
    this.input.maxLength = 4000;
    this.input.required = true;
    var send = el("button", "kefu-send", t.send);
    send.type = "submit";
    form.appendChild(label);
    form.appendChild(this.input);
    form.appendChild(send);
    panel.appendChild(form);
    this.form = form;

    var self = this;
    this.launcher.addEventListener("click", function () {
      self.toggle(self.panel.hidden);
    });
    this.closeButton.addEventListener("click", function () {
      self.toggle(false);
    });
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        self.toggle(false);
      }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.submit();
    });
    this.input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        self.submit();
      }
    });
    this.input.addEventListener("input", function () {
      self.typed();
    });
    this.pending.forEach(function (message) {
      self.showLocal(message);
    });
    if (dataset.kefuOpen !== undefined) {
      this.toggle(true);
    }
  };

  Widget.prototype.toggle = function (open) {
    this.panel.hidden = !open;
    this.launcher.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      this.input.focus();
      this.scroll();
    } else {
      this.launcher.focus();
    }
  };

  Widget.prototype.socketUrl = function () {
    var url = new URL(this.server + "/api/v1/chat/ws");
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.toString();
  };

  Widget.prototype.connect = function () {
    var self = this;
    if (this.stopped) {
      return;
    }
    this.setStatus(this.t.connecting);
    var socket;
    try {
      socket = new WebSocket(this.socketUrl());
    } catch (e) {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", function () {
      socket.send(
        JSON.stringify({
          type: "hello",
          token: self.token,
          last_seq: self.mode === "customer" ? self.lastSeq : 0,
          language: self.language,
          conversation_id: self.conversationId,
        })
      );
    });
    socket.addEventListener("message", function (event) {
      var frame;
      try {
        frame = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      self.receive(frame);
    });
    socket.addEventListener("close", function (event) {
      if (self.socket !== socket) {
        return;
      }
      self.socket = null;
      if (event.code === 4401) {
        self.stopped = true;
        self.setStatus(self.t.expired);
      } else if (event.code === 4403) {
        self.stopped = true;
        self.setStatus(self.t.refused);
      } else {
        self.scheduleReconnect();
      }
    });
  };

  Widget.prototype.scheduleReconnect = function () {
    var self = this;
    if (this.stopped || this.retryTimer) {
      return;
    }
    this.attempt += 1;
    var delay = Math.min(30, Math.pow(2, this.attempt - 1)) * (0.75 + Math.random() * 0.5);
    this.setStatus(fmt(this.t.reconnecting, Math.round(delay)));
    this.retryTimer = window.setTimeout(function () {
      self.retryTimer = null;
      self.connect();
    }, delay * 1000);
  };

  Widget.prototype.setStatus = function (text) {
    this.status.textContent = text;
  };

  Widget.prototype.receive = function (frame) {
    if (frame.type === "welcome") {
      this.attempt = 0;
      var previousMode = this.mode;
      this.mode = frame.mode;
      if (frame.mode === "anonymous") {
        if (previousMode === "anonymous") {
          /* a new anonymous session: nothing to resume */
        }
        this.lastSeq = 0;
        this.showHeader(null);
      } else {
        var state = frame.conversation;
        if (this.conversationId && this.conversationId !== state.conversation_id) {
          this.clearLog();
          this.lastSeq = 0;
        }
        this.conversationId = state.conversation_id;
        this.showHeader(state);
      }
      this.setStatus(this.t.connected);
      this.flushPending();
    } else if (frame.type === "state") {
      this.showHeader(frame.conversation);
    } else if (frame.type === "event") {
      this.showEvent(frame);
    } else if (frame.type === "ack") {
      this.acknowledge(frame.client_id);
    } else if (frame.type === "typing") {
      this.showTyping(frame);
    } else if (frame.type === "error") {
      this.showError(frame);
    }
  };

  Widget.prototype.showHeader = function (state) {
    var t = this.t;
    if (!state) {
      this.codeBox.hidden = true;
      this.who.textContent = t.anonymous;
      return;
    }
    this.codeBox.hidden = false;
    this.codeValue.textContent = state.verification_code;
    if (state.agent) {
      this.who.textContent = t.agent + ": " + state.agent.name + " (" + state.agent.handle + ")";
      this.who.className = "kefu-who kefu-verified";
    } else if (state.status === "handed_off") {
      this.who.textContent = fmt(t.queued, state.ticket_reference || "");
      this.who.className = "kefu-who";
    } else {
      this.who.textContent = t.withBot;
      this.who.className = "kefu-who";
    }
  };

  Widget.prototype.clearLog = function () {
    while (this.log.firstChild) {
      this.log.removeChild(this.log.firstChild);
    }
    this.bubbles = {};
  };

  Widget.prototype.author = function (frame) {
    var t = this.t;
    if (frame.author === "customer") {
      return t.you;
    }
    if (frame.author === "agent") {
      return frame.agent ? frame.agent.name + " · " + frame.agent.handle : t.agent;
    }
    return frame.author === "bot" ? t.bot : t.system;
  };

  Widget.prototype.bubble = function (authorClass, authorText, text) {
    var item = el("div", "kefu-message kefu-" + authorClass);
    item.appendChild(el("span", "kefu-author", authorText));
    item.appendChild(el("span", "kefu-text", text));
    return item;
  };

  Widget.prototype.showEvent = function (frame) {
    if (!frame.ephemeral && frame.seq <= this.lastSeq) {
      return; /* already shown: a resume never doubles a message */
    }
    if (!frame.ephemeral) {
      this.lastSeq = frame.seq;
    }
    var item = this.bubble(frame.author, this.author(frame), frame.text);
    item.setAttribute("data-seq", String(frame.seq));
    var local = frame.client_id && this.bubbles[frame.client_id];
    if (local) {
      /* the server's copy takes the place of the local one, in the log's order */
      this.log.removeChild(local);
      delete this.bubbles[frame.client_id];
      this.forget(frame.client_id);
    }
    this.log.appendChild(item);
    if (frame.author === "agent") {
      this.typing.textContent = "";
    }
    this.scroll();
  };

  Widget.prototype.scroll = function () {
    this.log.scrollTop = this.log.scrollHeight;
  };

  Widget.prototype.showLocal = function (message) {
    var item = this.bubble("customer kefu-pending", this.t.you, message.text);
    var state = el("span", "kefu-state", this.t.sending);
    item.appendChild(state);
    this.bubbles[message.client_id] = item;
    this.log.appendChild(item);
    this.scroll();
  };

  Widget.prototype.forget = function (clientId) {
    this.pending = this.pending.filter(function (m) {
      return m.client_id !== clientId;
    });
    this.savePending();
  };

  Widget.prototype.acknowledge = function (clientId) {
    this.forget(clientId);
  };

  Widget.prototype.showError = function (frame) {
    if (frame.client_id && this.bubbles[frame.client_id]) {
      var item = this.bubbles[frame.client_id];
      item.className = "kefu-message kefu-customer kefu-failed";
      var state = item.querySelector(".kefu-state");
      if (state) {
        state.textContent = this.t.failed + ": " + frame.message;
      }
      delete this.bubbles[frame.client_id];
      this.forget(frame.client_id);
      return;
    }
    this.setStatus(frame.message);
  };

  Widget.prototype.showTyping = function (frame) {
    var self = this;
    if (frame.who !== "agent") {
      return;
    }
    window.clearTimeout(this.agentTypingTimer);
    if (!frame.active) {
      this.typing.textContent = "";
      return;
    }
    this.typing.textContent = frame.agent
      ? fmt(this.t.typingAgent, frame.agent.name)
      : this.t.typingSomeone;
    this.agentTypingTimer = window.setTimeout(function () {
      self.typing.textContent = "";
    }, 6000);
  };

  Widget.prototype.sendFrame = function (frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN && this.mode) {
      this.socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  };

  Widget.prototype.typed = function () {
    var self = this;
    var now = Date.now();
    if (this.mode === "customer" && now - this.typingSentAt > 3000) {
      this.typingSentAt = now;
      this.sendFrame({ type: "typing", active: true });
    }
    window.clearTimeout(this.typingTimer);
    this.typingTimer = window.setTimeout(function () {
      self.stopTyping();
    }, 4000);
  };

  Widget.prototype.stopTyping = function () {
    window.clearTimeout(this.typingTimer);
    if (this.typingSentAt && this.mode === "customer") {
      this.sendFrame({ type: "typing", active: false });
    }
    this.typingSentAt = 0;
  };

  Widget.prototype.submit = function () {
    var text = this.input.value.trim();
    if (!text) {
      return;
    }
    this.input.value = "";
    this.stopTyping();
    var message = { client_id: newClientId(), text: text };
    this.pending.push(message);
    this.savePending();
    this.showLocal(message);
    if (!this.sendFrame({ type: "message", client_id: message.client_id, text: text })) {
      this.setStatus(this.t.offline);
    }
  };

  Widget.prototype.flushPending = function () {
    var self = this;
    this.pending.forEach(function (message) {
      self.sendFrame({ type: "message", client_id: message.client_id, text: message.text });
    });
  };

  Widget.prototype.setToken = function (token) {
    this.token = token;
    this.stopped = false;
    if (this.socket) {
      this.socket.close();
    } else {
      this.connect();
    }
  };

  var instance = null;

  window.KefuChat = {
    version: "1",
    init: function (options) {
      if (!instance) {
        instance = new Widget(options || {});
      }
      return instance;
    },
    setToken: function (token) {
      if (instance) {
        instance.setToken(token);
      }
    },
    open: function () {
      if (instance) {
        instance.toggle(true);
      }
    },
  };

  if (dataset.kefuManual === undefined) {
    var start = function () {
      window.KefuChat.init({ token: dataset.kefuToken || null });
    };
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", start);
    } else {
      start();
    }
  }
})();
