// Maum chat page: record or type a message, send it to /api, show the reply and play its audio.
// The conversation survives a reload (its id in localStorage, its token in an HttpOnly cookie) until
// the client chooses "새 대화", which starts a conversation linked to the one before.
// Plain browser JavaScript, no build step. User text only ever goes into textContent.
(function () {
  "use strict";

  var STATUS = {
    idle: "‘말하기’를 누르거나 글로 적어 주세요.",
    listening: "듣는 중이에요. 다 말씀하시면 ‘멈추고 보내기’를 눌러 주세요.",
    thinking: "마음이 생각하는 중이에요…",
    speaking: "마음이 말하는 중이에요.",
    loading: "지난 대화를 불러오는 중이에요…",
  };
  var RECORD_LABEL = { idle: "말하기", listening: "멈추고 보내기" };
  var GENERIC_ERROR = "잠시 문제가 생겼어요. 조금 뒤에 다시 시도해 주세요.";
  var NETWORK_ERROR = "서버에 연결할 수 없어요. 인터넷 연결을 확인하고 다시 시도해 주세요.";
  var NO_MICROPHONE = "마이크를 쓸 수 없어요. 브라우저에서 마이크 권한을 허락하시거나, 아래에 글로 적어 주세요.";
  var NO_RECORDING = "이 브라우저에서는 녹음을 쓸 수 없어요. 아래에 글로 적어 주세요.";
  var EMPTY_RECORDING = "녹음된 소리가 없어요. 다시 한 번 말씀해 주시겠어요?";
  var HISTORY_ERROR = "지난 대화를 불러오지 못했어요. 그래도 이어서 이야기하실 수 있어요.";
  var NOT_HEARD = "(말소리를 알아듣지 못했어요)";
  var HEARING = "말씀을 듣고 있어요";
  var THINKING = "생각하는 중이에요";
  var CRISIS_TITLE = "지금 바로 도움을 받을 수 있어요";
  var NEW_CHAT_STARTED = "새 대화를 시작했어요. 편하게 이야기해 주세요.";
  var NO_DEVICE_VOICE = "이 기기에는 기기 안에서 읽어 주는 한국어 목소리가 없어서 마음 목소리로 들려 드려요.";

  // Crisis and help lines a reply may name, as written → what a phone dials.
  var PHONE_NUMBERS = {
    109: "109",
    "1577-0199": "15770199",
    112: "112",
    119: "119",
    1388: "1388",
    1366: "1366",
    117: "117",
    "1899-9988": "18999988",
  };

  var VOICE_KEY = "maum.voice";
  var CONVERSATION_KEY = "maum.conversation";
  var PREVIOUS_KEY = "maum.previousConversation";

  var root = document.getElementById("chat");
  var log = document.getElementById("log");
  var messages = document.getElementById("messages");
  var statusEl = document.getElementById("status");
  var errorEl = document.getElementById("error");
  var recordBtn = document.getElementById("record");
  var recordLabel = document.getElementById("record-label");
  var form = document.getElementById("text-form");
  var textEl = document.getElementById("text");
  var sendBtn = document.getElementById("send");
  var levelEl = document.getElementById("level");
  var deviceVoiceInput = document.getElementById("voice-device");
  var voiceNote = document.getElementById("voice-note");
  var announcer = document.getElementById("announcer");
  var helpDialog = document.getElementById("help");
  var newChatBtn = document.getElementById("new-chat");
  var confirmDialog = document.getElementById("confirm-new");

  var emotionNames = JSON.parse(root.dataset.emotionNames || "{}");
  var showEmotion = root.dataset.showEmotion === "true";
  var maxRecordMs = Math.max(1000, Number(root.dataset.maxAudioS || 60) * 1000 - 500);
  var reducedMotion = window.matchMedia ? window.matchMedia("(prefers-reduced-motion: reduce)") : null;

  var conversation = null; // {id, token}; token is null after a reload (the cookie carries it then)
  var state = "idle";
  var playing = null; // the <audio> now playing

  // --- small helpers ---------------------------------------------------------------------------

  // localStorage may be missing or refuse (private modes): the page still works, only forgets on reload.
  function stored(key) {
    try {
      return window.localStorage.getItem(key);
    } catch (e) {
      return null;
    }
  }

  function store(key, value) {
    try {
      if (value === null) {
        window.localStorage.removeItem(key);
      } else {
        window.localStorage.setItem(key, value);
      }
    } catch (e) {
      // Nothing to do: the conversation simply will not survive a reload.
    }
  }

  function setState(next) {
    state = next;
    root.dataset.state = next;
    statusEl.textContent = STATUS[next];
    var busy = next === "thinking" || next === "loading";
    // aria-disabled, not disabled: a disabled button drops keyboard focus to <body>.
    recordBtn.setAttribute(
      "aria-disabled",
      busy || recordBtn.dataset.unsupported === "true" ? "true" : "false"
    );
    sendBtn.setAttribute("aria-disabled", busy || next === "listening" ? "true" : "false");
    // One control, one state at a time: its name says what pressing it does now.
    recordLabel.textContent = next === "listening" ? RECORD_LABEL.listening : RECORD_LABEL.idle;
  }

  function showError(message) {
    errorEl.textContent = message || GENERIC_ERROR;
    errorEl.hidden = false;
  }

  function clearError() {
    errorEl.textContent = "";
    errorEl.hidden = true;
  }

  function announce(text) {
    announcer.textContent = text;
  }

  // Request headers, with the conversation's token while this page still has it.
  function authHeaders(extra) {
    var headers = new Headers(extra || {});
    if (conversation && conversation.token) {
      headers.set("Authorization", "Bearer " + conversation.token);
    }
    return headers;
  }

  // fetch() that throws an Error carrying the API's Korean message, status and code.
  function api(path, options) {
    options = options || {};
    return fetch(path, {
      method: options.method || "GET",
      headers: authHeaders(options.headers),
      body: options.body,
      credentials: "same-origin",
    }).then(
      function (response) {
        return response
          .json()
          .catch(function () {
            return null;
          })
          .then(function (body) {
            if (!response.ok) {
              var error = new Error((body && body.error && body.error.message) || GENERIC_ERROR);
              error.status = response.status;
              error.code = body && body.error && body.error.code;
              throw error;
            }
            return body;
          });
      },
      function () {
        throw new Error(NETWORK_ERROR);
      }
    );
  }

  function conversationPath(id) {
    return "/api/conversations/" + encodeURIComponent(id);
  }

  function isGone(error) {
    return error.status === 401 || error.status === 404;
  }

  // --- conversations -------------------------------------------------------------------------------

  function adopt(body) {
    conversation = { id: body.id, token: body.token || null };
    store(CONVERSATION_KEY, body.id);
    store(PREVIOUS_KEY, null);
    return conversation;
  }

  // The conversation to speak in: the current one, or a new one, linked to the one the client left
  // with "새 대화" (its token cookie proves it is the same client).
  function ensureConversation() {
    if (conversation) {
      return Promise.resolve(conversation);
    }
    var previous = stored(PREVIOUS_KEY);
    var created = previous
      ? api(conversationPath(previous) + "/next", { method: "POST" }).catch(function (error) {
          // The one before is gone (deleted, or its cookie expired): start afresh rather than fail.
          if (isGone(error)) {
            return api("/api/conversations", { method: "POST" });
          }
          throw error;
        })
      : api("/api/conversations", { method: "POST" });
    return created.then(adopt);
  }

  // One Idempotency-Key per turn, so a retry after a lost answer (a node went away) is stored once.
  function postTurn(options) {
    var key = window.crypto && crypto.randomUUID ? crypto.randomUUID() : Date.now() + "-" + Math.random().toString(36).slice(2);
    var send = function () {
      var headers = Object.assign({}, options.headers, { "Idempotency-Key": key });
      return api(conversationPath(conversation.id) + "/turns", Object.assign({}, options, { headers: headers }));
    };
    return ensureConversation().then(function () {
      return send().catch(function (error) {
        if (error.status === undefined || error.status === 502 || error.status === 503) {
          return send(); // once: network error or a node that went away behind the load balancer
        }
        throw error;
      });
    });
  }

  // After a reload: show the conversation kept in this browser, or forget it if the server no longer has it.
  function restoreConversation() {
    var id = stored(CONVERSATION_KEY);
    if (!id) {
      return;
    }
    conversation = { id: id, token: null };
    setState("loading"); // nothing is sent before the earlier turns are on screen, in order
    api(conversationPath(id))
      .then(function (body) {
        setState("idle");
        if (!conversation || conversation.id !== id) {
          return; // the client already moved on
        }
        var last = null;
        body.turns.forEach(function (turn) {
          addUserBubble(turn.transcript, turn.emotion && turn.emotion.label);
          last = addReplyBubble(turn.reply);
          speakReply(last, turn.reply, false);
        });
        newChatBtn.hidden = body.turns.length === 0;
        if (last) {
          reveal(last);
          // The web font may arrive after this and reflow the text: look again once it has.
          if (document.fonts && document.fonts.ready) {
            document.fonts.ready.then(function () {
              reveal(last);
            });
          }
        }
      })
      .catch(function (error) {
        setState("idle");
        if (isGone(error)) {
          // Deleted, or the browser was closed and its token cookie with it: start afresh.
          conversation = null;
          store(CONVERSATION_KEY, null);
        } else {
          showError(HISTORY_ERROR); // the next message still goes on in the same conversation
        }
      });
  }

  function startNewConversation() {
    stopPlayback();
    var leaving = conversation ? conversation.id : stored(PREVIOUS_KEY);
    conversation = null;
    store(CONVERSATION_KEY, null);
    store(PREVIOUS_KEY, leaving);
    var greeting = messages.querySelector(".greeting");
    while (messages.lastChild && messages.lastChild !== greeting) {
      messages.removeChild(messages.lastChild);
    }
    clearError();
    newChatBtn.hidden = true;
    log.scrollTop = 0;
    announce(NEW_CHAT_STARTED);
    textEl.focus();
  }

  // --- the log -------------------------------------------------------------------------------------

  // Scroll the log (never the page) so that ``item`` shows: all of it when it fits, else its start.
  function reveal(item) {
    var logBox = log.getBoundingClientRect();
    var box = item.getBoundingClientRect();
    var room = logBox.height - box.height;
    var top;
    if (room < 0) {
      top = log.scrollTop + (box.top - logBox.top) - 8;
    } else {
      top = log.scrollTop + (box.bottom - logBox.bottom) + Math.min(8, room / 2);
    }
    var smooth = !(reducedMotion && reducedMotion.matches);
    log.scrollTo({ top: Math.max(0, top), behavior: smooth ? "smooth" : "auto" });
  }

  function lastBubble() {
    return messages.lastElementChild;
  }

  function speakerLabel(who) {
    var span = document.createElement("span");
    span.className = "visually-hidden";
    span.textContent = who === "user" ? "나: " : "마음: ";
    return span;
  }

  // A message; screen readers hear who speaks first ("나:", "마음:"), which the bubble's side shows to the eye.
  function newBubble(who, extraClass) {
    var item = document.createElement("li");
    item.className = "bubble " + who + (extraClass ? " " + extraClass : "");
    item.appendChild(speakerLabel(who));
    return item;
  }

  function textParagraph() {
    var p = document.createElement("p");
    p.className = "text";
    return p;
  }

  // Append ``text`` to ``parent`` with every known phone number as a tap-to-call link.
  function appendWithPhoneLinks(parent, text) {
    var pattern = /\d[\d-]*\d|\d/g;
    var last = 0;
    var match;
    while ((match = pattern.exec(text)) !== null) {
      var number = match[0];
      if (!Object.prototype.hasOwnProperty.call(PHONE_NUMBERS, number)) {
        continue;
      }
      parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      var link = document.createElement("a");
      link.className = "tel";
      link.href = "tel:" + PHONE_NUMBERS[number];
      link.textContent = number;
      parent.appendChild(link);
      last = match.index + number.length;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function dots() {
    var span = document.createElement("span");
    span.className = "dots";
    span.setAttribute("aria-hidden", "true");
    for (var i = 0; i < 3; i++) {
      span.appendChild(document.createElement("i"));
    }
    return span;
  }

  function fillUserBubble(item, text, emotionLabel) {
    item.classList.remove("pending");
    item.textContent = "";
    item.appendChild(speakerLabel("user"));
    var p = textParagraph();
    p.appendChild(document.createTextNode(text || NOT_HEARD));
    item.appendChild(p);
    if (showEmotion && emotionLabel) {
      var note = document.createElement("p");
      note.className = "emotion";
      note.textContent = "감정: " + (emotionNames[emotionLabel] || emotionLabel);
      item.appendChild(note);
    }
    return item;
  }

  function addUserBubble(text, emotionLabel) {
    var item = newBubble("user");
    messages.appendChild(item);
    return fillUserBubble(item, text, emotionLabel);
  }

  // A bubble that says something is under way: the client's words being heard, or Maum thinking.
  function addPendingBubble(who, text) {
    var item = newBubble(who, who === "user" ? "pending" : "thinking");
    var p = textParagraph();
    p.appendChild(document.createTextNode(text));
    p.appendChild(dots());
    item.appendChild(p);
    messages.appendChild(item);
    reveal(item);
    return item;
  }

  function addReplyBubble(reply) {
    var crisis = reply.kind === "crisis";
    var item = newBubble("maum", crisis ? "crisis" : "");
    if (crisis) {
      // Not colour alone: a heading with an icon says this reply is about getting help now.
      var title = document.createElement("h2");
      title.className = "crisis-title";
      var icon = document.createElement("span");
      icon.className = "crisis-icon";
      icon.setAttribute("aria-hidden", "true");
      icon.textContent = "☎";
      title.appendChild(icon);
      title.appendChild(document.createTextNode(" " + CRISIS_TITLE));
      item.appendChild(title);
    }
    var p = textParagraph();
    appendWithPhoneLinks(p, reply.text);
    item.appendChild(p);
    messages.appendChild(item);
    return item;
  }

  function removeIfAttached(item) {
    if (item && item.parentNode) {
      item.parentNode.removeChild(item);
    }
  }

  // --- reply audio ---------------------------------------------------------------------------------

  function stopPlayback() {
    if (playing) {
      playing.pause();
      playing = null;
    }
    if (window.speechSynthesis && (speechSynthesis.speaking || speechSynthesis.pending)) {
      speechSynthesis.cancel();
    }
    if (state === "speaking") {
      setState("idle");
    }
  }

  function play(audio) {
    stopPlayback();
    playing = audio;
    audio.currentTime = 0;
    setState("speaking");
    audio.onended = function () {
      if (playing === audio) {
        playing = null;
        setState("idle");
      }
    };
    return audio.play().catch(function () {
      // Autoplay refused: the "다시 듣기" button is still there.
      playing = null;
      setState("idle");
    });
  }

  // The device's own Korean voice, or null. Only voices that speak on the device itself: a network
  // voice (localService false) would send Maum's reply, and so the client's story, to an outside service.
  function koreanVoice() {
    if (!window.speechSynthesis || !window.SpeechSynthesisUtterance) {
      return null;
    }
    var voices = speechSynthesis.getVoices();
    for (var i = 0; i < voices.length; i++) {
      if (voices[i].localService === true && /^ko([-_]|$)/i.test(voices[i].lang)) {
        return voices[i];
      }
    }
    return null;
  }

  function refreshVoiceChoice() {
    var available = koreanVoice() !== null;
    deviceVoiceInput.disabled = !available;
    voiceNote.hidden = available;
    voiceNote.textContent = available ? "" : NO_DEVICE_VOICE;
    if (available && stored(VOICE_KEY) === "device") {
      deviceVoiceInput.checked = true;
    } else if (!available) {
      document.querySelector('input[name="voice"][value="server"]').checked = true;
    }
  }

  function wantsDeviceVoice() {
    return deviceVoiceInput.checked && koreanVoice() !== null;
  }

  function speakOnDevice(text) {
    stopPlayback();
    var utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = "ko-KR";
    utterance.voice = koreanVoice();
    setState("speaking");
    return new Promise(function (resolve) {
      function done() {
        if (state === "speaking") {
          setState("idle");
        }
        resolve();
      }
      utterance.onend = done;
      utterance.onerror = done;
      speechSynthesis.speak(utterance);
    });
  }

  function addReplayButton(bubble, replay) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "replay";
    button.textContent = "다시 듣기";
    button.addEventListener("click", replay);
    bubble.appendChild(button);
  }

  // Everything about a reply's sound, in one function: the device's own voice when the client chose
  // it (the shorter ``spoken_text`` of a crisis reply when there is one), else the server's WAV,
  // fetched with the token and played from a blob: URL. Adds the "다시 듣기" button; plays at once
  // when ``autoplay`` (a new reply), only on request for a conversation shown again after a reload.
  // Kept in one piece so that a sentence-by-sentence player (static/reply_audio.js) can replace it.
  function speakReply(bubble, reply, autoplay) {
    if (wantsDeviceVoice()) {
      var spoken = reply.spoken_text || reply.text;
      bubble.dataset.voice = "device";
      addReplayButton(bubble, function () {
        speakOnDevice(spoken);
      });
      return autoplay ? speakOnDevice(spoken) : Promise.resolve();
    }
    if (autoplay && reply.clips && reply.clips.length && window.MaumReplyAudio) {
      // Sentence by sentence (static/reply_audio.js): the first is heard while the rest are made.
      var sequence = window.MaumReplyAudio.playClips(reply.clips, { headers: authHeaders(), play: play, bubble: bubble });
      bubble.dataset.voice = "server";
      addReplayButton(bubble, sequence.replay);
      return sequence.started.catch(function () {
        if (state === "speaking") {
          setState("idle");
        }
      });
    }
    if (!reply.audio_url) {
      return Promise.resolve();
    }
    var loaded = null;
    function load() {
      if (!loaded) {
        loaded = fetch(reply.audio_url, { headers: authHeaders(), credentials: "same-origin" }).then(
          function (response) {
            if (!response.ok) {
              throw new Error("audio " + response.status);
            }
            return response.blob().then(function (blob) {
              return new Audio(URL.createObjectURL(blob));
            });
          }
        );
        loaded.catch(function () {
          loaded = null; // try again on the next press
        });
      }
      return loaded;
    }
    function loadAndPlay() {
      return load()
        .then(play)
        .catch(function () {
          if (state === "speaking") {
            setState("idle");
          }
        });
    }
    bubble.dataset.voice = "server";
    addReplayButton(bubble, loadAndPlay);
    return autoplay ? loadAndPlay() : Promise.resolve();
  }

  // --- turns ---------------------------------------------------------------------------------------

  // Send one turn. ``pending`` holds the bubbles already shown for it: the client's words (typed
  // text at once, or a placeholder while a recording is heard) and Maum's thinking indicator.
  function sendTurn(options, pending) {
    clearError();
    setState("thinking");
    return postTurn(options)
      .catch(function (error) {
        // The server no longer knows this conversation (e.g. it was deleted): start a new one, once.
        if (conversation && isGone(error)) {
          conversation = null;
          store(CONVERSATION_KEY, null);
          return postTurn(options);
        }
        throw error;
      })
      .then(function (result) {
        var user = pending.user || addUserBubble("");
        fillUserBubble(user, result.transcript, result.emotion && result.emotion.label);
        removeIfAttached(pending.thinking);
        var bubble = addReplyBubble(result.reply);
        newChatBtn.hidden = false;
        setState("idle");
        announce("마음: " + (result.reply.kind === "crisis" ? CRISIS_TITLE + ". " : "") + result.reply.text);
        speakReply(bubble, result.reply, true);
        reveal(bubble); // after speakReply, which adds the "다시 듣기" button to it
        return true;
      })
      .catch(function (error) {
        removeIfAttached(pending.user);
        removeIfAttached(pending.thinking);
        showError(error.message);
        setState("idle");
        return false;
      });
  }

  // Recording (static/recorder.js): the record button starts and stops it.
  MaumRecorder.attachButton(recordBtn, {
    levelEl: levelEl,
    maxMs: maxRecordMs,
    canStart: function () {
      return recordBtn.getAttribute("aria-disabled") !== "true";
    },
    beforeStart: function () {
      clearError();
      stopPlayback();
    },
    onListening: function () {
      setState("listening");
    },
    onRecording: function (blob, type) {
      var body = new FormData();
      body.append("audio", blob, "recording." + MaumRecorder.extensionFor(type));
      sendTurn({ method: "POST", body: body }, { user: addPendingBubble("user", HEARING) });
    },
    onProblem: function (kind) {
      showError(kind === "empty" ? EMPTY_RECORDING : NO_MICROPHONE);
      setState("idle");
    },
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = textEl.value;
    if (sendBtn.getAttribute("aria-disabled") === "true") {
      return;
    }
    if (!text.trim()) {
      textEl.focus();
      return;
    }
    stopPlayback();
    var user = addUserBubble(text.trim());
    var thinking = addPendingBubble("maum", THINKING);
    textEl.value = "";
    fitTextBox();
    sendTurn(
      {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ text: text }),
      },
      { user: user, thinking: thinking }
    ).then(function (sent) {
      if (!sent && !textEl.value) {
        textEl.value = text; // nothing is lost: the words go back into the box to send again
        fitTextBox();
      }
    });
  });

  // The text box grows with what is typed, up to a few lines, so the composer stays compact.
  function fitTextBox() {
    textEl.style.height = "auto";
    textEl.style.height = Math.min(textEl.scrollHeight + 2, 128) + "px";
  }

  textEl.addEventListener("input", fitTextBox);
  textEl.addEventListener("keydown", function (event) {
    // Enter sends, Shift+Enter breaks the line; never while a Hangul syllable is being composed.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  // --- help and "새 대화" -----------------------------------------------------------------------------

  function openDialog(dialog) {
    if (typeof dialog.showModal === "function") {
      dialog.showModal();
    } else {
      dialog.setAttribute("open", "");
    }
  }

  function closeDialog(dialog) {
    if (typeof dialog.close === "function") {
      dialog.close();
    } else {
      dialog.removeAttribute("open");
    }
  }

  document.getElementById("help-open").addEventListener("click", function () {
    openDialog(helpDialog);
  });
  document.getElementById("help-close").addEventListener("click", function () {
    closeDialog(helpDialog);
  });
  newChatBtn.addEventListener("click", function () {
    openDialog(confirmDialog);
  });
  document.getElementById("confirm-new-no").addEventListener("click", function () {
    closeDialog(confirmDialog);
  });
  document.getElementById("confirm-new-yes").addEventListener("click", function () {
    closeDialog(confirmDialog);
    startNewConversation();
  });
  [helpDialog, confirmDialog].forEach(function (dialog) {
    // A tap on the dimmed backdrop (outside the sheet) closes it, like Esc.
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog) {
        var box = dialog.getBoundingClientRect();
        var inside =
          event.clientX >= box.left &&
          event.clientX <= box.right &&
          event.clientY >= box.top &&
          event.clientY <= box.bottom;
        if (!inside) {
          closeDialog(dialog);
        }
      }
    });
  });

  // --- start -----------------------------------------------------------------------------------------

  if (!MaumRecorder.isSupported()) {
    // No microphone API (an old browser, or a page not served over HTTPS): typing still works.
    recordBtn.dataset.unsupported = "true";
    STATUS.idle = NO_RECORDING;
  }
  document.querySelectorAll('input[name="voice"]').forEach(function (input) {
    input.addEventListener("change", function () {
      store(VOICE_KEY, deviceVoiceInput.checked ? "device" : "server");
    });
  });
  if (window.speechSynthesis && "onvoiceschanged" in speechSynthesis) {
    // Voices often arrive after the page loads.
    speechSynthesis.addEventListener("voiceschanged", refreshVoiceChoice);
  }
  // When the on-screen keyboard opens or the page is zoomed, keep the newest message in view.
  window.addEventListener("resize", function () {
    var last = lastBubble();
    if (last) {
      reveal(last);
    }
  });
  refreshVoiceChoice();
  setState("idle");
  restoreConversation();
})();
