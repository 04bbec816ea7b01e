// Maum pronunciation practice: pick or type a sentence, read it aloud, see each syllable coloured.
// Plain browser JavaScript, no build step. Text from the server only ever goes into textContent.
// Recording follows static/chat.js: MediaRecorder in the best container the browser offers.
(function () {
  "use strict";

  var STATUS = {
    idle: "문장을 고르고 버튼을 누른 뒤 소리 내어 읽어 주세요.",
    listening: "듣는 중… 다 읽으면 버튼을 한 번 더 눌러 주세요.",
    scoring: "발음을 살펴보는 중…",
  };
  var GENERIC_ERROR = "잠시 문제가 생겼어요. 조금 뒤에 다시 시도해 주세요.";
  var NETWORK_ERROR = "서버에 연결할 수 없어요. 인터넷 연결을 확인하고 다시 시도해 주세요.";
  var NO_MICROPHONE = "마이크를 쓸 수 없어요. 브라우저에서 마이크 권한을 허락해 주세요.";
  var NO_RECORDING = "이 브라우저에서는 녹음을 쓸 수 없어요.";
  var EMPTY_RECORDING = "녹음된 소리가 없어요. 다시 한 번 읽어 주시겠어요?";
  var NO_TEXT = "읽을 문장을 고르거나 적어 주세요.";
  var MIME_TYPES = ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/mp4"];
  var RATING_NAMES = { good: "좋아요", unsure: "애매해요", wrong: "다시 해 봐요" };

  var root = document.getElementById("practice");
  var select = document.getElementById("sentence-select");
  var setDescription = document.getElementById("set-description");
  var ownText = document.getElementById("own-text");
  var textEl = document.getElementById("text");
  var useTextBtn = document.getElementById("use-text");
  var targetText = document.getElementById("target-text");
  var targetPron = document.getElementById("target-pron");
  var targetIpa = document.getElementById("target-ipa");
  var targetRules = document.getElementById("target-rules");
  var listenBtn = document.getElementById("listen");
  var statusEl = document.getElementById("status");
  var errorEl = document.getElementById("error");
  var recordBtn = document.getElementById("record");
  var levelEl = document.getElementById("level");
  var levelBar = levelEl.querySelector(".level-bar");
  var resultEl = document.getElementById("result");
  var syllablesEl = document.getElementById("syllables");
  var detailEl = document.getElementById("detail");
  var replayOwnBtn = document.getElementById("replay-own");
  var replayTargetBtn = document.getElementById("replay-target");
  var chart = document.getElementById("history-chart");
  var historyEmpty = document.getElementById("history-empty");

  var sets = JSON.parse(root.dataset.sets || "[]");
  var maxRecordMs = Math.max(1000, Number(root.dataset.maxSeconds || 30) * 1000 - 500);
  var current = { id: "", text: "" }; // the sentence being practised
  var state = "idle";
  var recorder = null;
  var stopTimer = null;
  var meter = null;
  var ownAudioUrl = null;
  var targetAudio = null; // {text, url}
  var playing = null;

  function setState(next) {
    state = next;
    root.dataset.state = next;
    statusEl.textContent = STATUS[next] || "";
    recordBtn.textContent = next === "listening" ? "멈추기" : "읽기 시작";
    recordBtn.setAttribute("aria-pressed", next === "listening" ? "true" : "false");
    recordBtn.disabled = next === "scoring" || recordBtn.dataset.unsupported === "true";
  }

  function showError(message) {
    errorEl.textContent = message || GENERIC_ERROR;
    errorEl.hidden = false;
  }

  function clearError() {
    errorEl.hidden = true;
    errorEl.textContent = "";
  }

  function api(path, options) {
    return fetch(path, Object.assign({ credentials: "same-origin" }, options || {})).then(
      function (response) {
        return response
          .json()
          .catch(function () {
            return {};
          })
          .then(function (body) {
            if (!response.ok) {
              var message = body && body.error && body.error.message;
              throw new Error(message || GENERIC_ERROR);
            }
            return body;
          });
      },
      function () {
        throw new Error(NETWORK_ERROR);
      }
    );
  }

  function findSentence(id) {
    for (var i = 0; i < sets.length; i++) {
      for (var j = 0; j < sets[i].sentences.length; j++) {
        if (sets[i].sentences[j].id === id) {
          return { set: sets[i], sentence: sets[i].sentences[j] };
        }
      }
    }
    return null;
  }

  function clear(el) {
    while (el.firstChild) {
      el.removeChild(el.firstChild);
    }
  }

  function addItem(list, text) {
    var li = document.createElement("li");
    li.textContent = text;
    list.appendChild(li);
  }

  // Show a sentence and its standard pronunciation, then its practice history.
  function choose(id, text) {
    current = { id: id, text: text };
    targetText.textContent = text;
    targetPron.textContent = "";
    targetIpa.textContent = "";
    clear(targetRules);
    resultEl.hidden = true;
    clearError();
    api("/api/practice/pronounce", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text: text }),
    })
      .then(function (body) {
        if (current.text !== text) return;
        targetPron.textContent = "[" + body.pronunciation + "]";
        targetIpa.textContent = "/" + body.ipa + "/";
        (body.explanations || []).forEach(function (line) {
          addItem(targetRules, line);
        });
      })
      .catch(function (error) {
        showError(error.message);
      });
    loadHistory();
  }

  function onSelect() {
    var id = select.value;
    if (!id) {
      ownText.hidden = false;
      setDescription.textContent = "";
      textEl.focus();
      return;
    }
    ownText.hidden = true;
    var found = findSentence(id);
    if (found) {
      setDescription.textContent = found.set.description;
      choose(id, found.sentence.text);
    }
  }

  // ---- history chart -----------------------------------------------------------------------
  var SVG = "http://www.w3.org/2000/svg";

  function svg(name, attrs, text) {
    var el = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (key) {
      el.setAttribute(key, String(attrs[key]));
    });
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function drawHistory(attempts) {
    clear(chart);
    historyEmpty.hidden = attempts.length > 0;
    chart.dataset.count = String(attempts.length);
    if (!attempts.length) return;
    var left = 28, right = 312, top = 10, bottom = 120;
    [0, 50, 100].forEach(function (v) {
      var y = bottom - (v / 100) * (bottom - top);
      chart.appendChild(svg("line", { x1: left, x2: right, y1: y, y2: y, class: "grid" }));
      chart.appendChild(svg("text", { x: left - 4, y: y + 4, class: "axis", "text-anchor": "end" }, String(v)));
    });
    var n = attempts.length;
    var points = attempts.map(function (a, i) {
      var x = n === 1 ? (left + right) / 2 : left + (i / (n - 1)) * (right - left);
      var y = bottom - (Math.max(0, Math.min(100, a.scores.overall)) / 100) * (bottom - top);
      return [x, y, a];
    });
    chart.appendChild(
      svg("polyline", {
        points: points.map(function (p) { return p[0].toFixed(1) + "," + p[1].toFixed(1); }).join(" "),
        class: "trend",
      })
    );
    points.forEach(function (p, i) {
      var dot = svg("circle", { cx: p[0].toFixed(1), cy: p[1].toFixed(1), r: 4, class: "point" });
      dot.appendChild(svg("title", {}, (i + 1) + "번째: " + Math.round(p[2].scores.overall) + "점"));
      chart.appendChild(dot);
    });
    chart.appendChild(svg("text", { x: right, y: 136, class: "axis", "text-anchor": "end" }, n + "번 연습"));
  }

  function loadHistory() {
    var text = current.text;
    if (!text) return;
    api("/api/practice/attempts?text=" + encodeURIComponent(text))
      .then(function (body) {
        if (current.text === text) drawHistory(body.attempts || []);
      })
      .catch(function () {
        drawHistory([]);
      });
  }

  // ---- result ------------------------------------------------------------------------------
  function showDetail(s) {
    detailEl.hidden = false;
    document.getElementById("detail-title").textContent = "'" + s.spelled + "' — " + RATING_NAMES[s.rating];
    document.getElementById("detail-expected").textContent = "[" + s.expected + "]  /" + s.expected_ipa + "/";
    document.getElementById("detail-heard").textContent = s.heard
      ? "[" + s.heard + "]  /" + s.heard_ipa + "/"
      : "들리지 않았어요";
    document.getElementById("detail-message").textContent = s.message;
    var list = document.getElementById("detail-explanation");
    clear(list);
    s.explanation.forEach(function (line) {
      addItem(list, line);
    });
    document.getElementById("detail-tip").textContent = s.tip ? "도움말: " + s.tip : "";
    Array.prototype.forEach.call(syllablesEl.querySelectorAll(".syl"), function (el) {
      el.classList.toggle("selected", Number(el.dataset.index) === s.index);
    });
  }

  function showResult(result) {
    resultEl.hidden = false;
    document.getElementById("summary").textContent = result.summary;
    ["overall", "accuracy", "completeness", "fluency"].forEach(function (name) {
      document.getElementById("score-" + name).textContent = Math.round(result.scores[name]);
    });
    document.getElementById("heard-text").textContent = result.heard.text || "(알아듣지 못했어요)";
    document.getElementById("heard-pron").textContent = result.heard.pronunciation
      ? "[" + result.heard.pronunciation + "]"
      : "";
    clear(syllablesEl);
    var byIndex = {};
    result.syllables.forEach(function (s) {
      byIndex[s.index] = s;
    });
    var firstProblem = null;
    var word = null; // syllables of one word stay on one line
    for (var i = 0; i < result.spoken.length; i++) {
      var ch = result.spoken.charAt(i);
      if (ch === " ") {
        syllablesEl.appendChild(document.createTextNode(" "));
        word = null;
        continue;
      }
      if (!word) {
        word = document.createElement("span");
        word.className = "word";
        syllablesEl.appendChild(word);
      }
      var s = byIndex[i];
      if (!s) continue;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "syl " + s.rating;
      button.dataset.index = String(s.index);
      button.dataset.rating = s.rating;
      button.textContent = s.spelled;
      button.title = "[" + s.expected + "] " + RATING_NAMES[s.rating];
      button.setAttribute("aria-label", s.spelled + ", " + RATING_NAMES[s.rating]);
      button.addEventListener("click", showDetail.bind(null, s));
      word.appendChild(button);
      if (!firstProblem && s.rating !== "good") firstProblem = s;
    }
    if (firstProblem) {
      showDetail(firstProblem);
    } else {
      detailEl.hidden = true;
    }
    replayOwnBtn.disabled = !ownAudioUrl;
  }

  function sendRecording(blob, type) {
    setState("scoring");
    var body = new FormData();
    body.append("audio", blob, "recording." + extensionFor(type));
    body.append("text", current.text);
    if (current.id) body.append("sentence_id", current.id);
    api("/api/practice/attempts", { method: "POST", body: body })
      .then(function (result) {
        showResult(result);
        loadHistory();
      })
      .catch(function (error) {
        showError(error.message);
      })
      .then(function () {
        setState("idle");
      });
  }

  // ---- playback ----------------------------------------------------------------------------
  function stopPlayback() {
    if (playing) {
      playing.pause();
      playing = null;
    }
  }

  function play(url) {
    stopPlayback();
    var audio = new Audio(url);
    playing = audio;
    audio.play().catch(function () {
      showError("소리를 재생할 수 없어요.");
    });
  }

  function playTarget() {
    var text = current.text;
    if (!text) return;
    if (targetAudio && targetAudio.text === text) {
      play(targetAudio.url);
      return;
    }
    fetch("/api/practice/speech?text=" + encodeURIComponent(text), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("지금은 문장을 읽어 드릴 수 없어요.");
        return response.blob();
      })
      .then(function (blob) {
        if (targetAudio) URL.revokeObjectURL(targetAudio.url);
        targetAudio = { text: text, url: URL.createObjectURL(blob) };
        play(targetAudio.url);
      })
      .catch(function (error) {
        showError(error.message === "Failed to fetch" ? NETWORK_ERROR : error.message);
      });
  }

  // ---- recording (as in chat.js) -----------------------------------------------------------
  function pickMimeType() {
    if (typeof MediaRecorder.isTypeSupported !== "function") return "";
    for (var i = 0; i < MIME_TYPES.length; i++) {
      if (MediaRecorder.isTypeSupported(MIME_TYPES[i])) return MIME_TYPES[i];
    }
    return "";
  }

  function extensionFor(mimeType) {
    if (mimeType.indexOf("webm") >= 0) return "webm";
    if (mimeType.indexOf("ogg") >= 0) return "ogg";
    if (mimeType.indexOf("mp4") >= 0) return "m4a";
    if (mimeType.indexOf("wav") >= 0) return "wav";
    return "bin";
  }

  function startMeter(stream) {
    var AudioContextClass = window.AudioContext || window.webkitAudioContext;
    if (!AudioContextClass) return null;
    var context = new AudioContextClass();
    var analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    context.createMediaStreamSource(stream).connect(analyser);
    var buffer = new Float32Array(analyser.fftSize);
    var frame = 0;
    var peak = 0;
    function draw() {
      analyser.getFloatTimeDomainData(buffer);
      var sum = 0;
      for (var i = 0; i < buffer.length; i++) sum += buffer[i] * buffer[i];
      var db = 20 * Math.log10(Math.sqrt(sum / buffer.length) + 1e-9);
      var percent = Math.round(Math.min(100, Math.max(0, ((db + 60) / 60) * 100)));
      peak = Math.max(peak, percent);
      levelBar.style.width = percent + "%";
      levelEl.setAttribute("aria-valuenow", String(percent));
      levelEl.dataset.peak = String(peak);
      frame = requestAnimationFrame(draw);
    }
    frame = requestAnimationFrame(draw);
    return {
      stop: function () {
        cancelAnimationFrame(frame);
        levelBar.style.width = "0";
        levelEl.setAttribute("aria-valuenow", "0");
        context.close();
      },
    };
  }

  function startRecording() {
    clearError();
    stopPlayback();
    if (!current.text) {
      showError(NO_TEXT);
      return;
    }
    navigator.mediaDevices.getUserMedia({ audio: true }).then(
      function (stream) {
        var mimeType = pickMimeType();
        var chunks = [];
        var rec = new MediaRecorder(stream, mimeType ? { mimeType: mimeType } : undefined);
        rec.addEventListener("dataavailable", function (event) {
          if (event.data && event.data.size) chunks.push(event.data);
        });
        rec.addEventListener("stop", function () {
          if (meter) {
            meter.stop();
            meter = null;
          }
          stream.getTracks().forEach(function (track) {
            track.stop();
          });
          clearTimeout(stopTimer);
          recorder = null;
          var type = rec.mimeType || mimeType || "application/octet-stream";
          var blob = new Blob(chunks, { type: type });
          if (!blob.size) {
            showError(EMPTY_RECORDING);
            setState("idle");
            return;
          }
          if (ownAudioUrl) URL.revokeObjectURL(ownAudioUrl);
          ownAudioUrl = URL.createObjectURL(blob);
          sendRecording(blob, type);
        });
        recorder = rec;
        meter = startMeter(stream);
        rec.start();
        setState("listening");
        stopTimer = setTimeout(stopRecording, maxRecordMs);
      },
      function () {
        showError(NO_MICROPHONE);
        setState("idle");
      }
    );
  }

  function stopRecording() {
    if (recorder && recorder.state !== "inactive") recorder.stop();
  }

  recordBtn.addEventListener("click", function () {
    if (recorder) {
      stopRecording();
    } else if (state === "idle") {
      startRecording();
    }
  });
  select.addEventListener("change", onSelect);
  useTextBtn.addEventListener("click", function () {
    var text = textEl.value.trim();
    if (!text) {
      textEl.focus();
      return;
    }
    choose("", text);
  });
  listenBtn.addEventListener("click", playTarget);
  replayTargetBtn.addEventListener("click", playTarget);
  replayOwnBtn.addEventListener("click", function () {
    if (ownAudioUrl) play(ownAudioUrl);
  });

  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.MediaRecorder) {
    recordBtn.dataset.unsupported = "true";
    STATUS.idle = NO_RECORDING;
  }
  setState("idle");
  onSelect();
})();
