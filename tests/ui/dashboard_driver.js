// Runs the dashboard page's own script in Node against a running SkyShare, with a small
// stand-in for the few DOM parts the page touches (no browser on the test machines), and
// prints what an operator would see, as JSON: the open incidents and their buttons, and
// the health warning.
//   node dashboard_driver.js PAGE BASE_URL API_KEY [BUTTON]
// With BUTTON (e.g. "approve"), it is clicked on the first incident that has it, and what
// is shown afterwards is printed too.
"use strict";
const fs = require("fs");
const vm = require("vm");

const [page, base, apiKey, button] = process.argv.slice(2);

class Node {
  constructor(tag) {
    this.tag = tag;
    this.children = [];
    this.attributes = {};
    this.listeners = {};
    this.textContent = "";
    this.className = "";
    this.value = "";
    this.onclick = null;
    this._html = "";
  }
  set innerHTML(html) { this._html = html; this.children = []; }
  get innerHTML() { return this._html; }
  setAttribute(name, value) { this.attributes[name] = String(value); }
  appendChild(child) { this.children.push(child); return child; }
  prepend(child) { this.children.unshift(child); }
  addEventListener(type, fn) { this.listeners[type] = fn; }
  getBoundingClientRect() { return { left: 0, top: 0 }; }
  get clientWidth() { return 1000; }
  get clientHeight() { return 800; }
}

const byId = {};
for (const id of ["map", "key", "connect", "health", "status", "incidents", "log", "new"]) {
  byId[id] = new Node(id);
}
const document = {
  querySelector: (selector) => {
    if (!selector.startsWith("#") || !(selector.slice(1) in byId)) {
      throw new Error(`the page asked for ${selector}, which this stand-in does not have`);
    }
    return byId[selector.slice(1)];
  },
  createElement: (tag) => new Node(tag),
  createElementNS: (_ns, tag) => new Node(tag),
};
class WebSocket {  // the live stream is not exercised here: it only says it is open
  constructor(url) { this.url = url; }
  close() {}
}
const context = vm.createContext({
  document,
  window: {},
  localStorage: { getItem: () => "", setItem: () => {} },
  location: { protocol: "http:", host: new URL(base).host },
  fetch: (path, options) => fetch(new URL(path, base), options),
  WebSocket,
  setInterval: () => 0,
  clearInterval: () => {},
  FormData: class {},
  console,
  Math, JSON, Object, Array, Number, String, Promise, Error, URL, Date,
  encodeURIComponent,
});

function shown() {
  return byId.incidents.children.map((div) => ({
    text: div.innerHTML.replace(/<[^>]*>/g, "").replace(/\s+/g, " ").trim(),
    buttons: div.children.filter((c) => c.tag === "button").map((b) => b.textContent),
  }));
}

async function main() {
  const html = fs.readFileSync(page, "utf8");
  const script = html.match(/<script>([\s\S]*)<\/script>/)[1];
  vm.runInContext(script, context, { filename: "index.html" });
  vm.runInContext(`key = ${JSON.stringify(apiKey)};`, context);
  const out = { errors: [] };
  await vm.runInContext("draw()", context);
  out.before = shown();
  out.health = byId.health.textContent;
  if (button) {
    const div = byId.incidents.children.find((d) => d.children.some((c) => c.textContent === button));
    if (!div) throw new Error(`no incident shows a ${button} button`);
    await div.children.find((c) => c.textContent === button).onclick();
    out.after = shown();
  }
  out.log = byId.log.children.map((line) => line.textContent);
  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  process.stdout.write(JSON.stringify({ errors: [String(error && error.stack || error)] }));
});
