// vclusterkit console. Every name from the API is written with textContent
// or as an attribute value, never as markup.
"use strict";

const $ = (sel, root) => (root || document).querySelector(sel);
const API = "/api/v1";

function csrf() {
  const m = document.cookie.match(/(?:^|; )vck_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : "";
}

function showError(msg) {
  const e = $("#error");
  e.textContent = msg;
  e.hidden = !msg;
}

async function call(method, path, body) {
  const opts = { method, headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(API + path, opts);
  if (r.status === 401) {
    showSignIn();
    throw new Error("signed out");
  }
  const text = await r.text();
  const data = text ? JSON.parse(text) : null;
  if (!r.ok) {
    const e = data && data.error ? data.error : { message: r.statusText };
    throw new Error((e.field ? e.field + ": " : "") + e.message);
  }
  return data;
}

async function act(fn) {
  showError("");
  try { await fn(); } catch (e) { if (e.message !== "signed out") showError(e.message); }
}

function el(tag, text, cls) {
  const n = document.createElement(tag);
  if (text !== undefined) n.textContent = text;
  if (cls) n.className = cls;
  return n;
}

function button(label, cls, onclick) {
  const b = el("button", label, cls);
  b.type = "button";
  b.addEventListener("click", () => act(onclick));
  return b;
}

function showSignIn() {
  $("#app").hidden = true;
  $("#signout").hidden = true;
  $("#who").textContent = "";
  $("#signin").hidden = false;
  if (events) { events.close(); events = null; }
}

let events = null;
let me = null;

async function start() {
  try {
    me = await call("GET", "/whoami");
  } catch (e) {
    return;
  }
  $("#signin").hidden = true;
  $("#app").hidden = false;
  $("#signout").hidden = false;
  $("#who").textContent = "signed in as " + me.name + " (" + me.method + ")";
  await act(renderTree);
  follow();
}

function follow() {
  if (events) events.close();
  events = new EventSource(API + "/events");
  events.addEventListener("virtualcluster", (ev) => {
    const e = JSON.parse(ev.data);
    const v = e.virtualCluster;
    const row = document.querySelector('tr[data-vc="' + CSS.escape(v.name) + '"]');
    if (e.type === "DELETED") { if (row) row.remove(); return; }
    if (row) { fillVC(row, v); return; }
    const body = document.querySelector('article[data-tenant="' + CSS.escape(v.tenant) + '"] table.vcs tbody');
    if (body) body.appendChild(vcRow(v, me.roles[v.tenant]));
  });
}

function fillVC(row, v) {
  const ph = $(".phase", row);
  ph.textContent = v.phase + (v.deleting ? " (deleting)" : "");
  ph.className = "phase phase-" + v.phase;
  $(".hostns", row).textContent = v.hostNamespace;
  const sleeping = v.paused || v.phase === "Sleeping";
  $(".sleep", row).hidden = sleeping;
  $(".wake", row).hidden = !sleeping;
}

const rank = { view: 1, edit: 2, admin: 3 };

function vcRow(v, role) {
  const tr = el("tr");
  tr.dataset.vc = v.name;
  tr.appendChild(el("td", v.name, "name"));
  tr.appendChild(el("td", "", "phase"));
  tr.appendChild(el("td", "", "hostns"));
  const actions = el("td");
  const kc = el("a", "kubeconfig", "kubeconfig");
  kc.href = API + "/virtualclusters/" + encodeURIComponent(v.name) + "/kubeconfig";
  kc.setAttribute("download", v.name + ".kubeconfig");
  actions.appendChild(kc);
  const sleep = button("Sleep", "sleep", () => call("POST", "/virtualclusters/" + encodeURIComponent(v.name) + "/sleep"));
  const wake = button("Wake", "wake", () => call("POST", "/virtualclusters/" + encodeURIComponent(v.name) + "/wake"));
  const del = button("Delete", "delete", () => call("DELETE", "/virtualclusters/" + encodeURIComponent(v.name)));
  if (rank[role] >= 2) { actions.appendChild(sleep); actions.appendChild(wake); }
  if (rank[role] >= 3) actions.appendChild(del);
  tr.appendChild(actions);
  fillVC(tr, v);
  return tr;
}

async function listAll(path) {
  let items = [], cont = "";
  for (;;) {
    const sep = path.includes("?") ? "&" : "?";
    const page = await call("GET", path + (cont ? sep + "continue=" + encodeURIComponent(cont) : ""));
    items = items.concat(page.items);
    if (!page.continue) return items;
    cont = page.continue;
  }
}

async function renderTree() {
  const [tenants, vcs, spaces] = await Promise.all([listAll("/tenants"), listAll("/virtualclusters"), listAll("/spaces")]);
  const tree = $("#tree");
  // Built aside and swapped in whole: the page never shows half a tree
  // (each tenant waits for its members), and two renders never interleave.
  const fresh = document.createDocumentFragment();
  for (const t of tenants) {
    const node = $("#tenant-tpl").content.firstElementChild.cloneNode(true);
    node.dataset.tenant = t.name;
    node.id = "tenant-" + t.name;
    node.classList.add("depth-" + Math.min(t.depth, 3));
    $(".tname", node).textContent = t.name;
    $(".display", node).textContent = t.displayName || "";
    $(".role", node).textContent = t.role;
    const usage = $(".usage", node);
    for (const u of t.usage) {
      const line = el("div");
      line.appendChild(el("span", u.resource));
      if (u.hard) {
        const bar = el("progress", "", "usage-bar");
        bar.max = 100;
        bar.value = Math.min(u.percent || 0, 100);
        bar.title = u.used + " of " + u.hard;
        line.appendChild(bar);
      }
      line.appendChild(el("span", u.used + (u.hard ? " / " + u.hard : "")));
      usage.appendChild(line);
    }
    call("GET", "/tenants/" + encodeURIComponent(t.name) + "/cost").then((c) => {
      $(".cost", node).textContent = "Cost this period (with descendants): " + c.total.toFixed(4) + " " + c.currency;
    }).catch(() => {});
    const body = $("table.vcs tbody", node);
    for (const v of vcs.filter((v) => v.tenant === t.name)) body.appendChild(vcRow(v, t.role));
    const ul = $(".spaces", node);
    for (const s of spaces.filter((s) => s.tenant === t.name)) {
      const li = el("li", s.name + " (ready: " + s.ready + ") ");
      li.dataset.space = s.name;
      if (t.role === "admin") li.appendChild(button("Delete", "delete-space", async () => {
        await call("DELETE", "/spaces/" + encodeURIComponent(s.name));
        await renderTree();
      }));
      ul.appendChild(li);
    }
    const members = await call("GET", "/tenants/" + encodeURIComponent(t.name) + "/members");
    const ml = $(".members", node);
    for (const m of members.items) {
      const li = el("li", m.kind + " " + m.name + ": " + m.role + (m.from !== t.name ? " (from " + m.from + ")" : ""));
      if (t.role === "admin" && m.from === t.name) li.appendChild(button("Remove", "remove-member", async () => {
        await call("DELETE", "/tenants/" + encodeURIComponent(t.name) + "/members/" + encodeURIComponent(m.kind) + "/" + encodeURIComponent(m.name));
        await renderTree();
      }));
      ml.appendChild(li);
    }
    if (t.role === "admin") {
      for (const f of node.querySelectorAll("form")) f.hidden = false;
      $(".create-vc", node).addEventListener("submit", (ev) => { ev.preventDefault(); act(async () => {
        const v = await call("POST", "/virtualclusters", { name: ev.target.name.value, tenant: t.name });
        if (!document.querySelector('tr[data-vc="' + CSS.escape(v.name) + '"]')) body.appendChild(vcRow(v, t.role));
        ev.target.reset();
      }); });
      $(".create-space", node).addEventListener("submit", (ev) => { ev.preventDefault(); act(async () => {
        await call("POST", "/spaces", { name: ev.target.name.value, tenant: t.name });
        await renderTree();
      }); });
      $(".add-member", node).addEventListener("submit", (ev) => { ev.preventDefault(); act(async () => {
        const f = ev.target;
        await call("PUT", "/tenants/" + encodeURIComponent(t.name) + "/members", { kind: f.kind.value, name: f.name.value, role: f.role.value });
        await renderTree();
      }); });
    } else {
      for (const f of node.querySelectorAll("form")) f.remove();
    }
    fresh.appendChild(node);
  }
  tree.replaceChildren(fresh);
  tree.dataset.renders = String(Number(tree.dataset.renders || 0) + 1);
}

async function renderReach() {
  const m = await call("GET", "/reachability");
  const table = $("#reach-table");
  table.replaceChildren();
  const head = el("tr");
  head.appendChild(el("th", "from \\ to"));
  for (const n of m.names) head.appendChild(el("th", n));
  table.appendChild(head);
  m.names.forEach((from, i) => {
    const tr = el("tr");
    tr.appendChild(el("th", from));
    m.allowed[i].forEach((ok) => tr.appendChild(el("td", ok ? "reach" : "blocked", ok ? "yes" : "no")));
    table.appendChild(tr);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  $("#signin-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    act(async () => {
      const r = await fetch("/session", { method: "POST", body: new URLSearchParams({ token: $("#token").value }), credentials: "same-origin" });
      if (!r.ok) throw new Error(await r.text());
      $("#token").value = "";
      await start();
    });
  });
  $("#signout").addEventListener("click", () => act(async () => {
    await fetch("/session/end", { method: "POST", headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin" });
    showSignIn();
  }));
  $("#show-tree").addEventListener("click", () => act(async () => { $("#reach").hidden = true; $("#tree").hidden = false; await renderTree(); }));
  $("#show-reach").addEventListener("click", () => act(async () => { $("#tree").hidden = true; $("#reach").hidden = false; await renderReach(); }));
  start();
});
