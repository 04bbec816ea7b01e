// Maum pronunciation practice: pick or type a sentence, read it aloud, see each syllable coloured.
// Plain browser JavaScript, no build step. Text from the server only ever goes into textContent.
// Recording (MediaRecorder, level meter) comes from static/recorder.js, shared with chat.js.
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
  var RATING_NAMES = { good: "좋아요", unsure: "애매해요", wrong: "다시 해 봐요", unjudgeable: "판단하기 어려워요" };

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
    // A recording too unclear to judge says so in words, apart from any "wrong" verdict.
    var unclearEl = document.getElementById("unclear");
    unclearEl.hidden = result.judgeable !== false;
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
      if (s.rating === "unjudgeable") {
        var mark = document.createElement("span");
        mark.className = "syl-mark";
        mark.setAttribute("aria-hidden", "true");
        mark.textContent = "?";
        button.appendChild(mark);
      }
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
    body.append("audio", blob, "recording." + MaumRecorder.extensionFor(type));
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

  // ---- recording (static/recorder.js) -------------------------------------------------------
  MaumRecorder.attachButton(recordBtn, {
    levelEl: levelEl,
    maxMs: maxRecordMs,
    canStart: function () {
      return state === "idle";
    },
    beforeStart: function () {
      clearError();
      stopPlayback();
      if (!current.text) {
        showError(NO_TEXT);
        return false;
      }
    },
    onListening: function () {
      setState("listening");
    },
    onRecording: function (blob, type) {
      if (ownAudioUrl) URL.revokeObjectURL(ownAudioUrl);
      ownAudioUrl = URL.createObjectURL(blob);
      sendRecording(blob, type);
    },
    onProblem: function (kind) {
      showError(kind === "empty" ? EMPTY_RECORDING : NO_MICROPHONE);
      setState("idle");
    },
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

  if (!MaumRecorder.isSupported()) {
    recordBtn.dataset.unsupported = "true";
    STATUS.idle = NO_RECORDING;
  }
  setState("idle");
  onSelect();
})();
