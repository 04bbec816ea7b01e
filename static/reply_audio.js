// Maum reply audio: play a reply sentence by sentence, as the server speaks each one.
// The turn answer lists reply.clips ([{text, url}]). Clip 0 is fetched and played at once; while a
// clip plays, the next one is fetched, so the client hears the first sentence long before the
// whole reply could have been synthesised. Plain browser JavaScript, no build step.
(function () {
  "use strict";

  // The clip needs the conversation's token, so it is fetched and played from a blob: URL.
  function fetchClip(url, headers) {
    return fetch(url, { headers: headers, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("clip " + response.status);
        }
        return response.blob();
      })
      .then(function (blob) {
        return new Audio(URL.createObjectURL(blob));
      });
  }

  // clips: reply.clips. options.headers: request headers (the token). options.play(audio): starts
  // one clip and returns a promise (chat.js's play, which stops anything else playing).
  // options.bubble: the reply's element; it gets data-first-clip-at (ms) when clip 0 starts.
  // Returns {started: a promise settled once clip 0 plays (or fails), replay: play all again}.
  function playClips(clips, options) {
    var loads = [];

    function load(n) {
      if (n >= clips.length) {
        return null;
      }
      if (!loads[n]) {
        loads[n] = fetchClip(clips[n].url, options.headers);
        loads[n].catch(function () {}); // a failed prefetch only ends the sequence there
      }
      return loads[n];
    }

    function playFrom(n) {
      var loading = load(n);
      if (!loading) {
        return Promise.resolve();
      }
      return loading.then(function (audio) {
        load(n + 1); // prefetch the next sentence while this one plays
        if (audio.maumNext) {
          audio.removeEventListener("ended", audio.maumNext); // stopped midway earlier, now replayed
        }
        audio.maumNext = function () {
          audio.removeEventListener("ended", audio.maumNext);
          audio.maumNext = null;
          playFrom(n + 1).catch(function () {});
        };
        audio.addEventListener("ended", audio.maumNext);
        return options.play(audio).then(function () {
          if (n === 0 && options.bubble && !audio.paused) {
            options.bubble.dataset.firstClipAt = String(Date.now());
          }
        });
      });
    }

    return {
      started: playFrom(0),
      replay: function () {
        playFrom(0).catch(function () {});
      },
    };
  }

  window.MaumReplyAudio = { playClips: playClips };
})();
