/*
 * The console's live chat view, progressively enhanced: without this script the reply form
 * posts and the page reloads. With it, new messages and the customer's typing arrive over
 * the agent socket (console cookie + Origin checked by the server), the reply form posts in
 * the background (same CSRF token), and the agent's typing is relayed to the customer.
 */
(function () {
  "use strict";
  var section = document.querySelector(".console-chat");
  if (!section || !window.WebSocket) {
    return;
  }
  var labels = section.dataset;
  var conversation = labels.conversation;
  var lastSeq = parseInt(labels.lastSeq || "0", 10);
  var log = document.getElementById("chat-log");
  var typing = document.getElementById("chat-typing");
  var form = document.getElementById("chat-reply");
  var input = document.getElementById("chat-text");
  var socket = null;
  var attempt = 0;
  var typingTimer = null;
  var typingSentAt = 0;
  var customerTypingTimer = null;

  function authorLabel(frame) {
    if (frame.author === "agent") {
      return frame.agent ? frame.agent.name : labels.agent;
    }
    return labels[frame.author] || frame.author;
  }

  function show(frame) {
    if (frame.seq <= lastSeq) {
      return;
    }
    lastSeq = frame.seq;
    var item = document.createElement("li");
    item.className = "chat-" + frame.author;
    item.setAttribute("data-seq", String(frame.seq));
    var author = document.createElement("span");
    author.className = "chat-author";
    author.textContent = authorLabel(frame);
    var text = document.createElement("span");
    text.className = "chat-text";
    text.textContent = frame.text;
    item.appendChild(author);
    item.appendChild(document.createTextNode(" "));
    item.appendChild(text);
    log.appendChild(item);
    if (frame.author === "customer") {
      typing.textContent = "";
    }
  }

  function connect() {
    var url = new URL("/console/chats/" + encodeURIComponent(conversation) + "/ws", location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("after", String(lastSeq));
    socket = new WebSocket(url.toString());
    socket.addEventListener("open", function () {
      attempt = 0;
      section.setAttribute("data-live", "on");
    });
    socket.addEventListener("message", function (event) {
      var frame;
      try {
        frame = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (frame.type === "event") {
        show(frame);
      } else if (frame.type === "typing" && frame.who === "customer") {
        window.clearTimeout(customerTypingTimer);
        typing.textContent = frame.active ? labels.typing : "";
        customerTypingTimer = window.setTimeout(function () {
          typing.textContent = "";
        }, 6000);
      }
    });
    socket.addEventListener("close", function (event) {
      socket = null;
      section.setAttribute("data-live", "off");
      if (event.code === 4401 || event.code === 4403 || event.code === 4404) {
        return; /* signed out or not allowed: the form still works and says why */
      }
      attempt += 1;
      window.setTimeout(connect, Math.min(30, Math.pow(2, attempt)) * 1000);
    });
  }

  function sendTyping(active) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "typing", active: active }));
    }
  }

  input.addEventListener("input", function () {
    var now = Date.now();
    if (now - typingSentAt > 3000) {
      typingSentAt = now;
      sendTyping(true);
    }
    window.clearTimeout(typingTimer);
    typingTimer = window.setTimeout(function () {
      typingSentAt = 0;
      sendTyping(false);
    }, 4000);
  });

  form.addEventListener("submit", function (event) {
    if (!socket || !window.fetch) {
      return; /* the plain form post */
    }
    event.preventDefault();
    var body = new URLSearchParams(new FormData(form));
    fetch(form.action, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
    }).then(function (response) {
      if (response.status === 204) {
        input.value = "";
        typingSentAt = 0;
        sendTyping(false);
      } else {
        form.submit(); /* let the server's page show the error */
      }
    }).catch(function () {
      form.submit();
    });
  });

  connect();
})();
