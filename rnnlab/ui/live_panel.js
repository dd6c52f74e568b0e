// The Train page's live panel: progress line, figures and the three charts of one run.
// It polls the server's live feed (rnnlab/ui/live_feed.py says why) and updates the charts in
// place with Plotly.react; the page reruns only when the run's state changes. Where the feed
// cannot be reached it asks the page to rerun at the same pace instead, so it still updates.

const COLOURS = { blue: "#1c64d6", green: "#1a8a4a", orange: "#c76a00", red: "#d23a2e", gray: "#6b6f76" };
const CHART_CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"] };

function loadPlotly(src) {
  if (!window.__rnnlabPlotly) {
    window.__rnnlabPlotly = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      const fail = () => {
        window.__rnnlabPlotly = null; // let a later panel try again
        reject(new Error("the chart library did not load: start the app with `streamlit run app.py`"));
      };
      // Served by app.py's routes; a server without them answers with its page, which defines nothing.
      script.onload = () => (window.Plotly ? resolve(window.Plotly) : fail());
      script.onerror = fail;
      document.head.appendChild(script);
    });
  }
  return window.__rnnlabPlotly;
}

class Panel {
  constructor(root) {
    this.root = root;
    this.find = (name) => root.querySelector(`[data-part="${name}"]`);
    this.revisions = {};
    this.timer = null;
    this.live = false;
    this.noFeed = false; // set once a request found no feed: numbers then come by reruns
    this.closed = false;
    this.asked = false; // a rerun has been asked for and not yet answered
    const slider = this.find("smoothing");
    const saved = window.sessionStorage.getItem("rnnlab-smoothing");
    if (saved !== null) slider.value = saved;
    this.find("smoothing-value").textContent = Number(slider.value).toFixed(2);
    slider.addEventListener("input", () => {
      this.find("smoothing-value").textContent = Number(slider.value).toFixed(2);
    });
    slider.addEventListener("change", () => {
      window.sessionStorage.setItem("rnnlab-smoothing", slider.value);
      delete this.revisions.loss;
      this.poll(0);
    });
  }

  get smoothing() {
    return Number(this.find("smoothing").value);
  }

  show(data, setTriggerValue) {
    this.data = data;
    this.setTriggerValue = setTriggerValue;
    this.asked = false;
    this.closed = false;
    const first = JSON.parse(data.payload);
    this.apply(first);
    // The page drew the loss at its default smoothing; this tab may have chosen another.
    const resmooth = !this.noFeed && Math.abs(this.smoothing - data.smoothing) > 1e-9;
    if (resmooth) delete this.revisions.loss;
    this.poll(resmooth ? 0 : first.live ? data.poll_ms : null);
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
  }

  poll(delay) {
    clearTimeout(this.timer);
    if (delay === null || this.closed) return;
    this.timer = setTimeout(() => this.fetchNews(), delay);
  }

  async fetchNews() {
    if (this.closed || this.asked) return;
    if (document.hidden) return this.poll(this.data.poll_ms); // nobody is looking: ask later
    const have = Object.entries(this.revisions).map(([name, rev]) => `${name}:${rev}`).join(",");
    const url = `${this.data.feed}?smoothing=${this.smoothing}&have=${encodeURIComponent(have)}`;
    let news = null;
    try {
      const response = await fetch(url, { cache: "no-store" });
      if (response.ok) news = await response.json();
    } catch (error) {
      news = null;
    }
    if (this.closed) return;
    if (news === null) {
      // No feed here (the router script served on its own) or the run is gone: the page redraws.
      this.noFeed = true;
      if (this.live) this.ask("tick", Date.now());
      return;
    }
    this.apply(news);
    this.poll(news.live ? this.data.poll_ms : null);
  }

  ask(name, value) {
    // The rerun hands this panel new data, which calls show() again. A rerun that draws the same
    // data calls nothing, so the panel carries on by itself after one more interval.
    if (this.asked) return;
    this.asked = true;
    clearTimeout(this.timer);
    this.setTriggerValue(name, value);
    this.timer = setTimeout(() => {
      this.asked = false;
      this.fetchNews();
    }, this.data.poll_ms);
  }

  apply(news) {
    this.live = news.live;
    const [icon, colour] = news.icon;
    const badge = this.find("badge");
    badge.style.color = COLOURS[colour] || COLOURS.gray;
    this.find("icon").textContent = icon;
    this.find("state").textContent = news.state;
    this.find("line").textContent = news.line;
    const bar = this.find("bar");
    bar.style.width = `${Math.round(Math.min(Math.max(news.progress, 0), 1) * 1000) / 10}%`;
    this.find("progress").setAttribute("aria-valuenow", String(Math.round(news.progress * 100)));
    const cells = this.find("cells");
    if (cells.rows.length !== 2 || cells.rows[0].cells.length !== news.cells.length) {
      cells.innerHTML = "<thead><tr></tr></thead><tbody><tr></tr></tbody>";
      for (const [name] of news.cells) {
        const th = document.createElement("th");
        th.textContent = name;
        cells.rows[0].appendChild(th);
        cells.rows[1].appendChild(document.createElement("td"));
      }
    }
    news.cells.forEach(([, value], i) => {
      if (cells.rows[1].cells[i].textContent !== value) cells.rows[1].cells[i].textContent = value;
    });
    this.find("error").textContent = news.error;
    this.find("error").hidden = !news.error;
    this.draw(news.charts);
    if (news.state !== this.data.state) this.ask("state", news.state); // new controls fit it
  }

  async draw(charts) {
    const fresh = Object.entries(charts).filter(([, chart]) => chart.figure !== null);
    if (!fresh.length) return;
    let Plotly;
    try {
      Plotly = await loadPlotly(this.data.plotly);
    } catch (error) {
      this.find("error").textContent = `The charts cannot be drawn: ${error.message}.`;
      this.find("error").hidden = false;
      return;
    }
    const page = getComputedStyle(this.root); // the page's own font, as Streamlit's charts use
    for (const [name, chart] of fresh) {
      const div = this.find(`chart-${name}`);
      const { layout } = chart.figure;
      const font = { family: page.fontFamily, color: page.color, ...layout.font };
      Plotly.react(div, chart.figure.data, { ...layout, font }, CHART_CONFIG);
      this.revisions[name] = chart.revision;
    }
  }
}

export default function ({ data, parentElement, setTriggerValue }) {
  const root = parentElement.querySelector(".rnnlab-live");
  if (!root.__panel) root.__panel = new Panel(root);
  root.__panel.show(data, setTriggerValue);
  return () => root.__panel.close();
}
