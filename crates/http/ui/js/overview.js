// The overview page and the definitions card.
'use strict';

// --- Overview.
const history = [];

async function overviewPage() {
  const box = h('div', {});
  show(h('h1', {}, 'Overview'), box);
  const draw = async () => {
    const [o, nodes] = await Promise.all([api('GET', '/api/overview'), api('GET', '/api/nodes')]);
    const t = o.object_totals || {};
    const q = o.queue_totals || {};
    const ms = o.message_stats || {};
    const rate = (k) => (ms[`${k}_details`] ? ms[`${k}_details`].rate : 0);
    history.push({
      ready: q.messages_ready || 0,
      unacked: q.messages_unacknowledged || 0,
      publish: rate('publish'),
      deliver: rate('deliver_get'),
      ack: rate('ack'),
    });
    if (history.length > 120) history.shift();
    const n = nodes[0] || {};
    const alarms = [n.mem_alarm && 'memory', n.disk_free_alarm && 'disk'].filter(Boolean);
    box.replaceChildren(
      h('div', { class: 'totals', id: 'totals' },
        [['Connections', t.connections], ['Channels', t.channels], ['Exchanges', t.exchanges],
          ['Queues', t.queues], ['Consumers', t.consumers], ['Ready', q.messages_ready],
          ['Unacked', q.messages_unacknowledged]].map(([label, v]) => h('div', { class: 'total' }, h('b', {}, fmt.int(v || 0)), h('span', {}, label)))),
      h('h2', {}, 'Queued messages'),
      h('section', { class: 'card' }, chart([
        { key: 'ready', label: 'Ready', color: '#2f6fde', format: fmt.int },
        { key: 'unacked', label: 'Unacked', color: '#e08a00', format: fmt.int },
      ], history)),
      h('h2', {}, 'Message rates'),
      h('section', { class: 'card' }, chart([
        { key: 'publish', label: 'Publish', color: '#2f6fde', format: fmt.rate },
        { key: 'deliver', label: 'Deliver / get', color: '#2e7d32', format: fmt.rate },
        { key: 'ack', label: 'Ack', color: '#8e24aa', format: fmt.rate },
      ], history)),
      h('h2', {}, 'Node'),
      h('section', { class: 'card' }, h('dl', { class: 'facts' },
        h('dt', {}, 'Name'), h('dd', {}, n.name || o.node),
        h('dt', {}, 'Version'), h('dd', {}, `${o.product_name || 'Warren'} ${o.product_version || ''}`),
        h('dt', {}, 'Alarms'), h('dd', {}, alarms.length ? alarms.map((a) => h('span', { class: 'alarm' }, a)) : 'none'),
        h('dt', {}, 'Memory'), h('dd', { class: n.mem_alarm ? 'alarm' : '' }, `${fmt.bytes(n.mem_used)} of ${fmt.bytes(n.mem_limit)} high watermark`),
        h('dt', {}, 'Disk free'), h('dd', { class: n.disk_free_alarm ? 'alarm' : '' }, `${fmt.bytes(n.disk_free)} (limit ${fmt.bytes(n.disk_free_limit)})`),
        h('dt', {}, 'File descriptors'), h('dd', {}, `${fmt.int(n.fd_used)} of ${fmt.int(n.fd_total)}`),
        h('dt', {}, 'Uptime'), h('dd', {}, n.uptime ? fmt.uptime(n.uptime) : ''),
        h('dt', {}, 'Listeners'), h('dd', {}, (o.listeners || []).map((l) => `${l.protocol} ${l.port}`).join(', ')))),
      definitionsCard(),
    );
  };
  await draw();
  every(5000, draw);
}

function definitionsCard() {
  const err = h('div', { class: 'error', role: 'alert' });
  const note = h('span', { class: 'notice', role: 'status' });
  const file = h('input', { type: 'file', id: 'definitions-file', accept: '.json,application/json' });
  const exportButton = h('button', { type: 'button', class: 'secondary', onclick: async () => {
    try {
      const defs = await api('GET', '/api/definitions');
      const a = h('a', { href: URL.createObjectURL(new Blob([JSON.stringify(defs, null, 2)], { type: 'application/json' })), download: 'warren-definitions.json' });
      document.body.append(a);
      a.click();
      a.remove();
    } catch (x) { err.textContent = x.message; }
  } }, 'Download broker definitions');
  const importForm = h('form', { class: 'toolbar', onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    note.textContent = '';
    try {
      if (!file.files.length) throw new Error('Choose a definitions file first');
      const defs = JSON.parse(await file.files[0].text());
      await api('POST', '/api/definitions', defs);
      note.textContent = 'Definitions imported';
    } catch (x) { err.textContent = x.message; }
  } }, h('label', { for: 'definitions-file' }, 'Import definitions'), file, h('button', { type: 'submit' }, 'Upload'), note);
  return h('div', {}, h('h2', {}, 'Definitions'),
    h('section', { class: 'card' }, isAdmin() ? [exportButton, importForm, err] : h('p', { class: 'muted' }, 'Export and import need the administrator tag.')));
}

