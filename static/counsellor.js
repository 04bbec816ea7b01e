/* Maum counsellor pages: the emotion timeline chart (Chart.js, served from static/vendor).
   The chart's data comes from the canvas's data-chart attribute (JSON); nothing runs inline. */
(function () {
  "use strict";

  var COLORS = {
    fear: "#7b4fa0",
    surprise: "#d99a00",
    anger: "#e8590c",
    sadness: "#2e6fb0",
    neutral: "#8a8a8a",
    happiness: "#2f9e5b",
    disgust: "#8d6e3f"
  };
  var RISK_COLOR = "#a8322d";
  var FONT_FAMILY = '"Noto Sans KR", "Apple SD Gothic Neo", "Malgun Gothic", sans-serif';

  function percent(value) {
    return Math.round(value * 100) + "%";
  }

  function drawTimeline(canvas) {
    var data;
    try {
      data = JSON.parse(canvas.getAttribute("data-chart"));
    } catch (err) {
      canvas.setAttribute("data-state", "error");
      return;
    }
    if (typeof window.Chart !== "function") {
      canvas.setAttribute("data-state", "no-library");
      return;
    }
    var high = data.risk.map(function (level) { return level === "high"; });
    var datasets = data.series.map(function (series) {
      var color = COLORS[series.label] || "#555555";
      return {
        label: series.name,
        data: series.scores,
        borderColor: color,
        backgroundColor: color,
        borderWidth: series.label === "neutral" ? 1.5 : 2.5,
        borderDash: series.label === "neutral" ? [5, 4] : [],
        tension: 0, // straight lines: turns are separate moments, curves would invent values between them
        pointRadius: high.map(function (h) { return h ? 6 : 3; }),
        pointBorderColor: high.map(function (h) { return h ? RISK_COLOR : color; }),
        pointBorderWidth: high.map(function (h) { return h ? 2.5 : 1; })
      };
    });

    window.Chart.defaults.font.family = FONT_FAMILY;
    var fontsReady = false;
    var chart = new window.Chart(canvas, {
      type: "line",
      data: { labels: data.labels, datasets: datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          y: {
            // The server rounds the highest score up (at least 50 %): scores near 40 % fill the chart.
            min: 0,
            max: data.y_max || 1,
            title: { display: true, text: "감정 점수" },
            ticks: { stepSize: 0.1, callback: function (value) { return percent(value); } }
          },
          x: {
            ticks: {
              // A phone has no room for the time under each turn: the number alone stays level.
              callback: function (value, index) {
                var label = data.labels[index];
                return this.chart.width < 480 ? label.split(" · ")[0] : label;
              },
              color: function (context) { return high[context.index] ? RISK_COLOR : "#555555"; },
              font: function (context) { return { weight: high[context.index] ? "bold" : "normal" }; }
            }
          }
        },
        plugins: {
          legend: { position: "bottom", labels: { usePointStyle: true, boxHeight: 8 } },
          tooltip: {
            callbacks: {
              title: function (items) {
                var i = items[0].dataIndex;
                var title = data.labels[i] + " · 가장 큰 감정: " + data.dominant[i];
                return high[i] ? title + " · 위험 높음" : title;
              },
              label: function (item) { return item.dataset.label + " " + percent(item.parsed.y); }
            }
          }
        }
      },
      plugins: [{
        id: "maumDrawn",
        afterRender: function (drawn) {
          if (fontsReady) {
            drawn.canvas.setAttribute("data-state", "drawn");
          }
        }
      }]
    });

    // Noto Sans KR comes in unicode-range slices that load only for text on the page. A canvas is not
    // page text: load the slices its labels need, then draw again, or some syllables show as boxes.
    var text = data.labels.concat(data.dominant, data.series.map(function (s) { return s.name; }),
      ["감정 점수 가장 큰 감정 위험 높음 0123456789%"]).join(" ");
    var loading = document.fonts && document.fonts.load
      ? Promise.all(["12px", "bold 12px"].map(function (size) { return document.fonts.load(size + " " + FONT_FAMILY, text); }))
      : Promise.resolve();
    loading.catch(function () { return null; }).then(function () {
      fontsReady = true;
      chart.update();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var canvas = document.getElementById("emotion-chart");
    if (canvas) {
      drawTimeline(canvas);
    }
  });
})();
