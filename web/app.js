// SPDX-License-Identifier: Apache-2.0
/*
 * casulo serve's dashboard. Polls GET /api/v1/vms every 2 s and redraws the
 * table (state, size, uptime, CPU and RSS sparklines kept from the polls or
 * the daemon's stats_history), posts the action buttons to
 * /api/v1/vms/NAME/ACTION, and attaches an xterm.js terminal to a VM's
 * console over the WebSocket /api/v1/vms/NAME/console (binary frames both
 * ways). A ?token=... on the page URL is sent as a Bearer token with every
 * request and as ?token= on the WebSocket, which cannot carry headers.
 */
'use strict';

(function () {
  const POLL_MS = 2000;
  const HISTORY = 60;            // samples per graph: two minutes
  const ACTIONS = [
    // action, label, states it makes sense in
    ['start', 'Start', ['stopped', 'crashed']],
    ['stop', 'Stop', ['running', 'paused', 'starting']],
    ['pause', 'Pause', ['running']],
    ['resume', 'Resume', ['paused']],
    ['power-off', 'Power off', ['running', 'paused', 'starting']],
  ];

  const token = new URLSearchParams(window.location.search).get('token');
  const history = new Map();     // name -> {cpu: [], rss: []}
  const rows = new Map();        // name -> row elements
  let consoleSession = null;

  const $ = (id) => document.getElementById(id);

  function api(path, options) {
    const opts = Object.assign({ headers: {} }, options || {});
    if (token) opts.headers.Authorization = 'Bearer ' + token;
    return fetch('/api/v1' + path, opts).then((r) => {
      if (r.ok) return r.status === 204 ? null : r.json().catch(() => null);
      return r.json().catch(() => ({})).then((body) => {
        throw new Error((body && body.error) || (r.status + ' ' + r.statusText));
      });
    });
  }

  function setStatus(text) {
    $('status').textContent = text || '';
  }

  function fmtBytes(n) {
    if (typeof n !== 'number' || !isFinite(n)) return '-';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i];
  }

  function fmtUptime(s) {
    if (typeof s !== 'number' || s < 0) return '-';
    s = Math.floor(s);
    const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24;
    const m = Math.floor(s / 60) % 60, sec = s % 60;
    const hms = [h, m, sec].map((v) => String(v).padStart(2, '0')).join(':');
    return d ? d + 'd ' + hms : hms;
  }

  function memoryBytes(vm) {
    if (typeof vm.memory === 'number') return vm.memory;
    if (typeof vm.memory_bytes === 'number') return vm.memory_bytes;
    return null;
  }

  // Draws `values` as a line scaled to max(values, floor) into a canvas.
  function drawSpark(canvas, values, floor) {
    const ratio = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 120, h = canvas.clientHeight || 28;
    if (canvas.width !== w * ratio) { canvas.width = w * ratio; canvas.height = h * ratio; }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    if (!values.length) return;
    const max = Math.max(floor, ...values);
    ctx.beginPath();
    values.forEach((v, i) => {
      const x = values.length === 1 ? w : (i / (HISTORY - 1)) * w + (w - ((values.length - 1) / (HISTORY - 1)) * w);
      const y = h - 2 - (Math.max(0, v) / max) * (h - 4);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.strokeStyle = '#1f6feb';
    ctx.lineWidth = 1.5;
    ctx.stroke();
  }

  function record(vm) {
    let hist = history.get(vm.name);
    if (!hist) {
      hist = { cpu: [], rss: [] };
      history.set(vm.name, hist);
      // A daemon that keeps history gives a new page its graphs at once.
      if (Array.isArray(vm.stats_history)) {
        vm.stats_history.slice(-HISTORY).forEach((s) => {
          hist.cpu.push(Number(s.cpu_percent) || 0);
          hist.rss.push(Number(s.rss_bytes) || 0);
        });
      }
    }
    const st = vm.stats;
    if (st && vm.state === 'running' || st && vm.state === 'paused') {
      hist.cpu.push(Number(st.cpu_percent) || 0);
      hist.rss.push(Number(st.rss_bytes) || 0);
    } else {
      hist.cpu.push(0);
      hist.rss.push(0);
    }
    if (hist.cpu.length > HISTORY) hist.cpu.splice(0, hist.cpu.length - HISTORY);
    if (hist.rss.length > HISTORY) hist.rss.splice(0, hist.rss.length - HISTORY);
    return hist;
  }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => e.setAttribute(k, v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function sparkCell() {
    const td = el('td');
    const box = el('div', { class: 'spark' });
    const canvas = el('canvas', { width: '120', height: '28' });
    const label = el('span');
    box.append(canvas, label);
    td.append(box);
    return { td, canvas, label };
  }

  function makeRow(name) {
    const tr = el('tr', { id: 'vm-' + name, 'data-vm': name });
    const r = {
      tr,
      name: el('td', { class: 'name' }, name),
      state: el('span', { class: 'state' }),
      cpus: el('td', { class: 'num' }),
      mem: el('td', { class: 'num' }),
      uptime: el('td', { class: 'num' }),
      cpu: sparkCell(),
      rss: sparkCell(),
      buttons: {},
    };
    const stateTd = el('td');
    stateTd.append(r.state);
    const actions = el('td', { class: 'actions' });
    ACTIONS.forEach(([action, label]) => {
      const b = el('button', { type: 'button', 'data-action': action }, label);
      if (action === 'power-off') b.classList.add('danger');
      b.addEventListener('click', () => act(name, action, b));
      r.buttons[action] = b;
      actions.append(b);
    });
    const cons = el('button', { type: 'button', 'data-action': 'console' }, 'Console');
    cons.addEventListener('click', () => openConsole(name));
    r.buttons.console = cons;
    actions.append(cons);
    tr.append(r.name, stateTd, r.cpus, r.mem, r.uptime, r.cpu.td, r.rss.td, actions);
    return r;
  }

  function render(vms) {
    const body = $('vm-rows');
    const seen = new Set();
    vms.sort((a, b) => String(a.name).localeCompare(String(b.name)));
    vms.forEach((vm) => {
      const name = String(vm.name);
      seen.add(name);
      let r = rows.get(name);
      if (!r) { r = makeRow(name); rows.set(name, r); }
      body.append(r.tr);   // keeps the sorted order
      const state = String(vm.state || 'unknown');
      r.state.textContent = state;
      r.state.className = 'state ' + state;
      r.tr.dataset.state = state;
      r.cpus.textContent = vm.cpus != null ? String(vm.cpus) : '-';
      r.mem.textContent = fmtBytes(memoryBytes(vm));
      r.uptime.textContent = state === 'running' || state === 'paused' ? fmtUptime(vm.uptime_s) : '-';
      const hist = record(vm);
      drawSpark(r.cpu.canvas, hist.cpu, 100);
      drawSpark(r.rss.canvas, hist.rss, 1);
      r.cpu.label.textContent = hist.cpu.length ? hist.cpu[hist.cpu.length - 1].toFixed(1) + '%' : '-';
      r.rss.label.textContent = fmtBytes(hist.rss[hist.rss.length - 1]);
      ACTIONS.forEach(([action, , states]) => {
        r.buttons[action].disabled = !states.includes(state);
      });
      r.buttons.console.disabled = !(state === 'running' || state === 'paused' || state === 'starting');
    });
    for (const [name, r] of rows) {
      if (!seen.has(name)) { r.tr.remove(); rows.delete(name); history.delete(name); }
    }
    $('empty').hidden = vms.length !== 0;
  }

  function renderHost(host) {
    if (!host) return;
    const parts = [];
    if (typeof host.vms === 'number') parts.push(host.vms + ' VMs');
    if (typeof host.memory_committed === 'number' && typeof host.memory_total === 'number')
      parts.push(fmtBytes(host.memory_committed) + ' of ' + fmtBytes(host.memory_total) + ' committed');
    $('host').textContent = parts.join(' · ');
  }

  let polling = false;
  function poll() {
    if (polling) return;
    polling = true;
    Promise.all([api('/vms'), api('/host').catch(() => null)])
      .then(([vms, host]) => {
        render(Array.isArray(vms) ? vms : []);
        renderHost(host);
        setStatus('');
      })
      .catch((e) => setStatus('cannot reach casulo serve: ' + e.message))
      .finally(() => { polling = false; });
  }

  function act(name, action, button) {
    button.disabled = true;
    api('/vms/' + encodeURIComponent(name) + '/' + action, { method: 'POST' })
      .then(() => setStatus(''))
      .catch((e) => setStatus(name + ': ' + action + ' failed: ' + e.message))
      .finally(poll);
  }

  function consoleUrl(name) {
    const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    let url = proto + '//' + window.location.host + '/api/v1/vms/' + encodeURIComponent(name) + '/console';
    if (token) url += '?token=' + encodeURIComponent(token);
    return url;
  }

  function closeConsole() {
    if (!consoleSession) return;
    const s = consoleSession;
    consoleSession = null;
    s.closing = true;
    if (s.ws) s.ws.close(1000);
    if (s.term) s.term.dispose();
    window.removeEventListener('resize', s.onResize);
    $('console').hidden = true;
  }

  function openConsole(name) {
    closeConsole();
    $('console').hidden = false;
    $('console-title').textContent = 'Console: ' + name;
    const stateEl = $('console-state');
    if (typeof window.Terminal !== 'function') {
      $('terminal').hidden = true;
      $('no-terminal').hidden = false;
      stateEl.textContent = '';
      return;
    }
    $('terminal').hidden = false;
    $('no-terminal').hidden = true;
    $('terminal').textContent = '';
    const term = new window.Terminal({ convertEol: true, cursorBlink: true, fontSize: 14, scrollback: 5000 });
    let fit = null;
    if (window.FitAddon && typeof window.FitAddon.FitAddon === 'function') {
      fit = new window.FitAddon.FitAddon();
      term.loadAddon(fit);
    }
    term.open($('terminal'));
    if (fit) fit.fit();
    const s = { name, term, ws: null, closing: false, onResize: () => fit && fit.fit() };
    window.addEventListener('resize', s.onResize);
    consoleSession = s;
    window.casuloConsole = s;   // for the browser test and for debugging

    const ws = new WebSocket(consoleUrl(name));
    ws.binaryType = 'arraybuffer';
    s.ws = ws;
    stateEl.textContent = 'connecting…';
    const encoder = new TextEncoder();
    ws.onopen = () => { stateEl.textContent = 'connected'; term.focus(); };
    ws.onmessage = (ev) => {
      term.write(typeof ev.data === 'string' ? ev.data : new Uint8Array(ev.data));
    };
    ws.onclose = (ev) => {
      if (s.closing) return;
      stateEl.textContent = 'disconnected' + (ev.code && ev.code !== 1005 ? ' (' + ev.code + ')' : '');
      term.write('\r\n\x1b[2m[console closed]\x1b[0m\r\n');
    };
    term.onData((data) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(data));
    });
  }

  $('console-close').addEventListener('click', closeConsole);
  poll();
  setInterval(poll, POLL_MS);
})();
