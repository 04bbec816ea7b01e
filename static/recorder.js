// Maum microphone recording, shared by chat.js and practice.js: MediaRecorder in the best container the
// browser offers, an optional live level meter, and one Blob when recording stops.
// Plain browser JavaScript, no build step; load it with <script defer> before the page script.
(function () {
  "use strict";

  // Containers the server decodes, in the order browsers record them best.
  var MIME_TYPES = ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/mp4"];

  function isSupported() {
    return !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.MediaRecorder);
  }

  function pickMimeType() {
    if (typeof MediaRecorder.isTypeSupported !== "function") {
      return "";
    }
    for (var i = 0; i < MIME_TYPES.length; i++) {
      if (MediaRecorder.isTypeSupported(MIME_TYPES[i])) {
        return MIME_TYPES[i];
      }
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

  // A live level meter while recording: RMS of the microphone signal, on a rough dB scale, drawn into
  // levelEl (role="meter" with a .level-bar child; aria-valuenow and data-peak carry the numbers).
  function startMeter(stream, levelEl) {
    var AudioContextClass = window.AudioContext || window.webkitAudioContext;
    if (!AudioContextClass || !levelEl) {
      return null;
    }
    var levelBar = levelEl.querySelector(".level-bar");
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
      for (var i = 0; i < buffer.length; i++) {
        sum += buffer[i] * buffer[i];
      }
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

  // Ask for the microphone and record until stop() is called or maxMs passes.
  // options: levelEl (optional meter element), maxMs (optional limit),
  //   onStart(session) once recording runs (session.stop() ends it),
  //   onStop(blob, mimeType) after the microphone is released (blob may be empty),
  //   onDenied() when the microphone cannot be opened.
  function record(options) {
    navigator.mediaDevices.getUserMedia({ audio: true }).then(
      function (stream) {
        var mimeType = pickMimeType();
        var chunks = [];
        var meter = null;
        var timer = null;
        var rec = new MediaRecorder(stream, mimeType ? { mimeType: mimeType } : undefined);
        var session = {
          stop: function () {
            if (rec.state !== "inactive") {
              rec.stop();
            }
          },
        };
        rec.addEventListener("dataavailable", function (event) {
          if (event.data && event.data.size) {
            chunks.push(event.data);
          }
        });
        rec.addEventListener("stop", function () {
          if (meter) {
            meter.stop();
            meter = null;
          }
          stream.getTracks().forEach(function (track) {
            track.stop();
          });
          clearTimeout(timer);
          var type = rec.mimeType || mimeType || "application/octet-stream";
          options.onStop(new Blob(chunks, { type: type }), type);
        });
        meter = startMeter(stream, options.levelEl);
        rec.start();
        options.onStart(session);
        if (options.maxMs) {
          timer = setTimeout(session.stop, options.maxMs);
        }
      },
      function () {
        options.onDenied();
      }
    );
  }

  // Wire a record button the way both pages use it: a click starts recording, the next click (or
  // maxMs) stops it. Only a recording with sound reaches the page; an empty one or a refused
  // microphone is reported as a problem, so each page only says it in its own words.
  // options: levelEl, maxMs (as for record),
  //   canStart() -> false while the button must not start anything (optional),
  //   beforeStart() -> false to not start after all, e.g. nothing to read yet (optional),
  //   onListening() once the microphone records,
  //   onRecording(blob, mimeType) with a non-empty recording,
  //   onProblem(kind) with kind "empty" (no sound recorded) or "denied" (no microphone).
  function attachButton(button, options) {
    var session = null; // {stop} while recording
    function start() {
      if (options.beforeStart && options.beforeStart() === false) {
        return;
      }
      record({
        levelEl: options.levelEl,
        maxMs: options.maxMs,
        onStart: function (started) {
          session = started;
          options.onListening();
        },
        onStop: function (blob, mimeType) {
          session = null;
          if (!blob.size) {
            options.onProblem("empty");
            return;
          }
          options.onRecording(blob, mimeType);
        },
        onDenied: function () {
          options.onProblem("denied");
        },
      });
    }
    button.addEventListener("click", function () {
      if (session) {
        session.stop();
      } else if (!options.canStart || options.canStart() !== false) {
        start();
      }
    });
  }

  window.MaumRecorder = {
    MIME_TYPES: MIME_TYPES,
    isSupported: isSupported,
    pickMimeType: pickMimeType,
    extensionFor: extensionFor,
    startMeter: startMeter,
    record: record,
    attachButton: attachButton,
  };
})();
