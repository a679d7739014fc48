// Draws each chart of the insights dashboard from the numbers the page carries (json_script), with
// the vendored Chart.js. The same numbers are in the table under each chart and in its CSV.
(function () {
  "use strict";
  const palette = ["#1d5fa8", "#9bb8d8", "#2f7d4a", "#a15c00", "#6a2c91", "#b3261e", "#5d6b7a", "#00838f"];
  function draw() {
    const data = document.getElementById("insights-charts");
    if (!data || !window.Chart) return;
    const locale = document.documentElement.lang || "ja";
    const charts = JSON.parse(data.textContent);
    for (const chart of charts) {
      const canvas = document.querySelector('canvas[data-chart="' + chart.key + '"]');
      if (!canvas) continue;
      // CSAT: the average is on its own scale; counts stay in the table.
      const series = chart.key === "csat" ? chart.series.slice(0, 1) : chart.series;
      new window.Chart(canvas, {
        type: "bar",
        data: {
          labels: chart.labels,
          datasets: series.map(function (s, i) {
            return { label: s.name, data: s.values, backgroundColor: palette[i % palette.length] };
          }),
        },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          locale: locale,
          animation: false,
          scales: {
            x: { stacked: chart.kind === "stacked" },
            y: {
              stacked: chart.kind === "stacked",
              beginAtZero: true,
              max: chart.key === "csat" ? 5 : undefined,
              ticks: { callback: function (v) { return chart.unit === "%" ? v + "%" : v.toLocaleString(locale); } },
            },
          },
          plugins: { legend: { position: "bottom" } },
        },
      });
    }
  }
  document.addEventListener("DOMContentLoaded", draw);
})();
