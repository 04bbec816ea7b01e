// Maum chat page: record or type a message, send it to /api, show the reply and play its audio.
// Plain browser JavaScript, no build step. User text only ever goes into textContent.
(function () {
  "use strict";

  var STATUS = {
    idle: "버튼을 누르고 말씀해 주세요.",
    listening: "듣는 중… 다 말씀하시면 버튼을 한 번 더 눌러 주세요.",
    thinking: "생각하는 중…",
    speaking: "말하는 중…",
  };
  var GENERIC_ERROR = "잠시 문제가 생겼어요. 조금 뒤에 다시 시도해 주세요.";
  var NETWORK_ERROR = "서버에 연결할 수 없어요. 인터넷 연결을 확인하고 다시 시도해 주세요.";
  var NO_MICROPHONE = "마이크를 쓸 수 없어요. 브라우저에서 마이크 권한을 허락하시거나, 아래에 글로 적어 주세요.";
  var NO_RECORDING = "이 브라우저에서는 녹음을 쓸 수 없어요. 아래에 글로 적어 주세요.";
  var EMPTY_RECORDING = "녹음된 소리가 없어요. 다시 한 번 말씀해 주시겠어요?";

  var root = document.getElementById("chat");
  var messages = document.getElementById("messages");
  var statusEl = document.getElementById("status");
  var errorEl = document.getElementById("error");
  var recordBtn = document.getElementById("record");
  var form = document.getElementById("text-form");
  var textEl = document.getElementById("text");
  var sendBtn = document.getElementById("send");
  var levelEl = document.getElementById("level");
  var deviceVoiceInput = document.getElementById("voice-device");
  var voiceNote = document.getElementById("voice-note");
  var NO_DEVICE_VOICE = "이 기기에는 한국어 목소리가 없어서 마음 목소리로 들려 드려요.";
  var VOICE_KEY = "maum.voice";

  var emotionNames = JSON.parse(root.dataset.emotionNames || "{}");
  var maxRecordMs = Math.max(1000, Number(root.dataset.maxAudioS || 60) * 1000 - 500);

  var conversation = null; // {id, token}
  var state = "idle";
  var recorder = null; // {stop} while recording (static/recorder.js)
  var playing = null; // the <audio> now playing

  function setState(next) {
    state = next;
    root.dataset.state = next;
    statusEl.textContent = STATUS[next];
    var thinking = next === "thinking";
    recordBtn.disabled = thinking || recordBtn.dataset.unsupported === "true";
    sendBtn.disabled = thinking || next === "listening";
    recordBtn.textContent = next === "listening" ? "멈추고 보내기" : "말하기";
    recordBtn.setAttribute("aria-pressed", next === "listening" ? "true" : "false");
  }

  function showError(message) {
    errorEl.textContent = message || GENERIC_ERROR;
    errorEl.hidden = false;
  }

  function clearError() {
    errorEl.textContent = "";
    errorEl.hidden = true;
  }

  // Request headers, with the conversation's token once there is one.
  function authHeaders(extra) {
    var headers = new Headers(extra || {});
    if (conversation) {
      headers.set("Authorization", "Bearer " + conversation.token);
    }
    return headers;
  }

  // fetch() that throws an Error carrying the API's Korean message, status and code.
  function api(path, options) {
    options = options || {};
    var headers = authHeaders(options.headers);
    return fetch(path, {
      method: options.method || "GET",
      headers: headers,
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

  function ensureConversation() {
    if (conversation) {
      return Promise.resolve(conversation);
    }
    return api("/api/conversations", { method: "POST" }).then(function (body) {
      conversation = { id: body.id, token: body.token };
      return conversation;
    });
  }

  function postTurn(options) {
    return ensureConversation().then(function () {
      return api("/api/conversations/" + encodeURIComponent(conversation.id) + "/turns", options);
    });
  }

  function addBubble(who, text) {
    var item = document.createElement("li");
    item.className = "bubble " + who;
    var p = document.createElement("p");
    p.className = "text";
    p.textContent = text;
    item.appendChild(p);
    messages.appendChild(item);
    item.scrollIntoView({ block: "end", behavior: "smooth" });
    return item;
  }

  function addNote(bubble, text, className) {
    var note = document.createElement("p");
    note.className = className;
    note.textContent = text;
    bubble.appendChild(note);
    return note;
  }

  function showTurn(result) {
    var user = addBubble("user", result.transcript || "(말소리를 알아듣지 못했어요)");
    var label = result.emotion && result.emotion.label;
    if (label) {
      addNote(user, "감정: " + (emotionNames[label] || label), "emotion");
    }
    var maum = addBubble("maum", result.reply.text);
    if (result.risk && result.risk.level === "high") {
      maum.classList.add("risk-high");
    }
    return maum;
  }

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

  // The device's own Korean voice (speechSynthesis), or null when it has none.
  function koreanVoice() {
    if (!window.speechSynthesis || !window.SpeechSynthesisUtterance) {
      return null;
    }
    var voices = speechSynthesis.getVoices();
    for (var i = 0; i < voices.length; i++) {
      if (/^ko([-_]|$)/i.test(voices[i].lang)) {
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
    var saved = window.localStorage ? localStorage.getItem(VOICE_KEY) : null;
    if (available && saved === "device") {
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

  // The reply audio needs the token, so it is fetched and played from a blob: URL.
  function loadReplyAudio(url, bubble) {
    return fetch(url, { headers: authHeaders(), credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("audio " + response.status);
        }
        return response.blob();
      })
      .then(function (blob) {
        var audio = new Audio(URL.createObjectURL(blob));
        bubble.dataset.voice = "server";
        addReplayButton(bubble, function () {
          play(audio);
        });
        return play(audio);
      });
  }

  function sendTurn(options) {
    clearError();
    setState("thinking");
    return postTurn(options)
      .catch(function (error) {
        // The server no longer knows this conversation (e.g. it was reset): start a new one, once.
        if (conversation && (error.status === 401 || error.status === 404)) {
          conversation = null;
          return postTurn(options);
        }
        throw error;
      })
      .then(function (result) {
        var bubble = showTurn(result);
        if (wantsDeviceVoice()) {
          bubble.dataset.voice = "device";
          addReplayButton(bubble, function () {
            speakOnDevice(result.reply.text);
          });
          speakOnDevice(result.reply.text);
          return true;
        }
        if (result.reply.clips && result.reply.clips.length) {
          // Sentence by sentence (static/reply_audio.js): the first is heard while the rest are made.
          var options = { headers: authHeaders(), play: play, bubble: bubble };
          var reply = MaumReplyAudio.playClips(result.reply.clips, options);
          bubble.dataset.voice = "server";
          addReplayButton(bubble, reply.replay);
          return reply.started.catch(function () { setState("idle"); }).then(function () { return true; });
        }
        if (!result.reply.audio_url) {
          setState("idle");
          return true;
        }
        return loadReplyAudio(result.reply.audio_url, bubble)
          .catch(function () {
            setState("idle");
          })
          .then(function () {
            return true;
          });
      })
      .catch(function (error) {
        showError(error.message);
        setState("idle");
        return false;
      });
  }

  function startRecording() {
    clearError();
    stopPlayback();
    MaumRecorder.record({
      levelEl: levelEl,
      maxMs: maxRecordMs,
      onStart: function (session) {
        recorder = session;
        setState("listening");
      },
      onStop: function (blob, type) {
        recorder = null;
        if (!blob.size) {
          showError(EMPTY_RECORDING);
          setState("idle");
          return;
        }
        var body = new FormData();
        body.append("audio", blob, "recording." + MaumRecorder.extensionFor(type));
        sendTurn({ method: "POST", body: body });
      },
      onDenied: function () {
        showError(NO_MICROPHONE);
        setState("idle");
      },
    });
  }

  function stopRecording() {
    if (recorder) {
      recorder.stop();
    }
  }

  recordBtn.addEventListener("click", function () {
    if (recorder) {
      stopRecording();
    } else if (state !== "thinking") {
      startRecording();
    }
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = textEl.value;
    if (!text.trim()) {
      textEl.focus();
      return;
    }
    stopPlayback();
    sendTurn({
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text: text }),
    }).then(function (sent) {
      if (sent) {
        textEl.value = "";
      }
    });
  });

  textEl.addEventListener("keydown", function (event) {
    // Enter sends, Shift+Enter breaks the line; never while a Hangul syllable is being composed.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      if (!sendBtn.disabled) {
        form.requestSubmit();
      }
    }
  });

  if (!MaumRecorder.isSupported()) {
    // No microphone API (an old browser, or a page not served over HTTPS): typing still works.
    recordBtn.dataset.unsupported = "true";
    STATUS.idle = NO_RECORDING;
  }
  document.querySelectorAll('input[name="voice"]').forEach(function (input) {
    input.addEventListener("change", function () {
      if (window.localStorage) {
        localStorage.setItem(VOICE_KEY, deviceVoiceInput.checked ? "device" : "server");
      }
    });
  });
  if (window.speechSynthesis && "onvoiceschanged" in speechSynthesis) {
    // Voices often arrive after the page loads.
    speechSynthesis.addEventListener("voiceschanged", refreshVoiceChoice);
  }
  refreshVoiceChoice();
  setState("idle");
})();
