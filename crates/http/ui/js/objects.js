// One exchange's, queue's, channel's and connection's pages.
'use strict';

// The bindings from (`source`) or to (`destination`) an object, with unbind.
function bindingsCard(vhost, listPath, after) {
  const box = h('div', { id: 'bindings' });
  const load = async () => {
    const all = await api('GET', listPath);
    box.replaceChildren(all.length ? h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, ['From', 'To', 'Routing key', 'Arguments', ''].map((c) => h('th', {}, c)))),
      h('tbody', {}, all.map((b) => h('tr', {},
        h('td', {}, b.source || '(AMQP default)'), h('td', {}, `${b.destination_type} ${b.destination}`),
        h('td', {}, b.routing_key), h('td', {}, JSON.stringify(b.arguments)),
        h('td', {}, b.source ? h('button', { type: 'button', class: 'secondary', onclick: async () => {
          await api('DELETE', `/api/bindings/${enc(vhost)}/e/${enc(b.source)}/${b.destination_type === 'queue' ? 'q' : 'e'}/${enc(b.destination)}/${enc(b.properties_key)}`);
          load();
          if (after) after();
        } }, 'Unbind') : '')))))) : h('p', { class: 'muted' }, 'No bindings'));
  };
  return { box, load };
}

async function exchangePage(vhost, name) {
  const real = name === 'amq.default' ? '' : name;
  const path = `/api/exchanges/${enc(vhost)}/${enc(name)}`;
  const x = await api('GET', path);
  const bindings = bindingsCard(vhost, `${path}/bindings/source`);
  const rates = liveChart([
    { key: 'in', label: 'Publish (in)', color: '#2f6fde', format: fmt.rate },
    { key: 'out', label: 'Publish (out)', color: '#2e7d32', format: fmt.rate },
  ]);
  const sample = (e) => rates.add({ in: rateOf(e.message_stats, 'publish_in'), out: rateOf(e.message_stats, 'publish_out') });
  sample(x);
  const parts = [
    h('h1', {}, `Exchange ${real || '(AMQP default)'}`),
    h('section', { class: 'card' }, h('dl', { class: 'facts' },
      h('dt', {}, 'Virtual host'), h('dd', {}, x.vhost), h('dt', {}, 'Type'), h('dd', {}, x.type),
      h('dt', {}, 'Features'), h('dd', {}, [x.durable && 'durable', x.auto_delete && 'auto-delete', x.internal && 'internal'].filter(Boolean).join(', ') || 'transient'),
      h('dt', {}, 'Arguments'), h('dd', {}, JSON.stringify(x.arguments || {})))),
    h('h2', {}, 'Message rates'), h('section', { class: 'card' }, rates.box),
    h('h2', {}, 'Bindings'), h('section', { class: 'card' }, bindings.box),
  ];
  if (real && !real.startsWith('amq.')) {
    parts.push(simpleForm('Add a binding from this exchange', 'add-binding', [
      ['binding-destination-type', 'To', 'queue', ['queue', 'exchange']], ['binding-destination', 'Name'],
      ['binding-routing-key', 'Routing key'], ['binding-arguments', 'Arguments', '', 'textarea'],
    ], async (f) => {
      const kind = f['binding-destination-type'] === 'queue' ? 'q' : 'e';
      await api('POST', `/api/bindings/${enc(vhost)}/e/${enc(real)}/${kind}/${enc(f['binding-destination'])}`, {
        routing_key: f['binding-routing-key'], arguments: parseArguments(f['binding-arguments']),
      });
    }, bindings.load));
    parts.push(h('section', { class: 'card toolbar' }, deleteButton(path, `exchange ${real}`)));
  }
  show(...parts);
  await bindings.load();
  every(5000, async () => sample(await api('GET', path)));
}

// Rates from a `message_stats` object (`publish_details.rate`, ...).
const rateOf = (stats, k) => ((stats || {})[`${k}_details`] || {}).rate || 0;

// A live chart of one object's samples, kept while its page is open.
function liveChart(series) {
  const samples = [];
  const box = h('div', { class: 'live-chart' });
  return {
    box,
    add(sample) {
      samples.push(sample);
      if (samples.length > 120) samples.shift();
      box.replaceChildren(chart(series, samples));
    },
  };
}

// --- One queue: details, rates, bindings, browse, move, publish, get, purge, delete.
async function queuePage(vhost, name) {
  const path = `/api/queues/${enc(vhost)}/${enc(name)}`;
  const facts = h('dl', { class: 'facts', id: 'queue-facts' });
  const queued = liveChart([
    { key: 'ready', label: 'Ready', color: '#2f6fde', format: fmt.int },
    { key: 'unacked', label: 'Unacked', color: '#e08a00', format: fmt.int },
  ]);
  const rates = liveChart([
    { key: 'publish', label: 'Publish', color: '#2f6fde', format: fmt.rate },
    { key: 'deliver', label: 'Deliver / get', color: '#2e7d32', format: fmt.rate },
    { key: 'ack', label: 'Ack', color: '#8e24aa', format: fmt.rate },
  ]);
  const draw = async () => {
    const q = await api('GET', path);
    const ms = q.message_stats;
    queued.add({ ready: q.messages_ready || 0, unacked: q.messages_unacknowledged || 0 });
    rates.add({ publish: rateOf(ms, 'publish'), deliver: rateOf(ms, 'deliver_get'), ack: rateOf(ms, 'ack') });
    facts.replaceChildren(
      h('dt', {}, 'Virtual host'), h('dd', {}, q.vhost),
      h('dt', {}, 'Type'), h('dd', {}, q.type),
      h('dt', {}, 'Features'), h('dd', {}, [q.durable && 'durable', q.auto_delete && 'auto-delete', q.exclusive && 'exclusive'].filter(Boolean).join(', ') || 'transient'),
      h('dt', {}, 'Arguments'), h('dd', {}, JSON.stringify(q.arguments || {})),
      h('dt', {}, 'Policy'), h('dd', {}, q.policy || ''),
      h('dt', {}, 'Ready'), h('dd', { id: 'queue-ready' }, fmt.int(q.messages_ready)),
      h('dt', {}, 'Unacked'), h('dd', {}, fmt.int(q.messages_unacknowledged)),
      h('dt', {}, 'Consumers'), h('dd', {}, fmt.int(q.consumers)),
      h('dt', {}, 'Memory'), h('dd', {}, fmt.bytes(q.memory)));
  };
  await draw();
  const bindings = bindingsCard(vhost, `${path}/bindings`);
  show(h('h1', {}, `Queue ${name}`), h('section', { class: 'card' }, facts),
    h('div', { class: 'charts' },
      h('div', {}, h('h2', {}, 'Queued messages'), h('section', { class: 'card' }, queued.box)),
      h('div', {}, h('h2', {}, 'Message rates'), h('section', { class: 'card' }, rates.box))),
    h('h2', {}, 'Bindings'), h('section', { class: 'card' }, bindings.box),
    simpleForm('Add a binding to this queue', 'bind-queue', [
      ['bind-exchange', 'From exchange'], ['bind-routing-key', 'Routing key'], ['bind-arguments', 'Arguments', '', 'textarea'],
    ], async (f) => {
      await api('POST', `/api/bindings/${enc(vhost)}/e/${enc(f['bind-exchange'])}/q/${enc(name)}`, {
        routing_key: f['bind-routing-key'], arguments: parseArguments(f['bind-arguments']),
      });
    }, bindings.load),
    browseCard(path), moveForm(path, draw),
    publishForm(vhost, name, draw), getForm(path, draw), dangerForm(path, vhost, draw));
  await bindings.load();
  every(5000, draw);
}

// One message as get, peek and browse show it.
function messageCard(title, detail, m) {
  return h('section', { class: 'card message' },
    h('b', {}, title), h('span', { class: 'muted' }, ` ${detail}`),
    h('pre', { class: 'payload' }, m.payload),
    h('div', { class: 'muted' }, `${m.payload_bytes} bytes, ${m.payload_encoding}; properties: ${JSON.stringify(m.properties)}`));
}

// Browse: Warren's peek (GET .../messages), which leaves the messages in
// place, unlike RabbitMQ's get-and-requeue that marks them redelivered.
function browseCard(path) {
  const err = h('div', { class: 'error', role: 'alert' });
  const out = h('div', { id: 'browse-messages' });
  const offset = h('input', { id: 'browse-offset', type: 'number', min: '0', value: '0' });
  const count = h('input', { id: 'browse-count', type: 'number', min: '1', max: '1000', value: '10' });
  const load = async () => {
    err.textContent = '';
    try {
      const r = await api('GET', `${path}/messages?offset=${Number(offset.value)}&count=${Number(count.value)}`);
      const last = r.offset + r.messages.length;
      out.replaceChildren(
        h('p', { class: 'muted', id: 'browse-summary' }, r.messages.length
          ? `Messages ${r.offset + 1} to ${last} of ${fmt.int(r.message_count)} ready`
          : `No messages from position ${r.offset + 1} (${fmt.int(r.message_count)} ready)`),
        ...r.messages.map((m) => messageCard(`#${m.position + 1}`,
          `routing key ${m.routing_key}, exchange ${m.exchange || '(AMQP default)'}, ${m.redelivered ? 'redelivered' : 'not redelivered'}`, m)));
    } catch (x) { err.textContent = x.message; }
  };
  const step = (by) => () => { offset.value = Math.max(0, Number(offset.value) + by * Number(count.value)); load(); };
  const form = h('form', { class: 'grid', id: 'browse', onsubmit: (e) => { e.preventDefault(); load(); } },
    h('label', { for: 'browse-offset' }, 'From position (0 = next)'), offset,
    h('label', { for: 'browse-count' }, 'Messages'), count,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Browse messages'),
      h('button', { type: 'button', class: 'secondary', onclick: step(-1) }, 'Previous'),
      h('button', { type: 'button', class: 'secondary', onclick: step(1) }, 'Next')), err);
  return h('div', {}, h('h2', {}, 'Browse messages'),
    h('section', { class: 'card' }, h('p', { class: 'muted' }, 'Shows ready messages without taking them: nothing is redelivered, consumers are not affected.'), form, out));
}

// Move: all messages to another queue, or dead letters back to the
// exchange and routing key of their latest x-death entry.
function moveForm(path, after) {
  const err = h('div', { class: 'error', role: 'alert' });
  const note = h('span', { class: 'notice', role: 'status', id: 'move-result' });
  const mode = h('select', { id: 'move-mode' },
    h('option', { value: 'queue' }, 'To another queue'),
    h('option', { value: 'dead_letters' }, 'Dead letters back to their exchange and routing key'));
  const dest = h('input', { id: 'move-destination', placeholder: 'queue name' });
  const count = h('input', { id: 'move-count', type: 'number', min: '1', placeholder: 'all' });
  mode.addEventListener('change', () => { dest.disabled = mode.value !== 'queue'; });
  const form = h('form', { class: 'grid', id: 'move', onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    note.textContent = '';
    const body = mode.value === 'queue' ? { destination: dest.value } : { dead_letters: true };
    if (count.value) body.count = Number(count.value);
    try {
      const r = await api('POST', `${path}/move`, body);
      const stayed = [[r.skipped, 'without x-death'], [r.unroutable, 'unroutable'], [r.refused, 'not permitted']]
        .filter(([n]) => n).map(([n, why]) => `${fmt.int(n)} ${why}`);
      note.textContent = `Moved ${fmt.int(r.moved)} message${r.moved === 1 ? '' : 's'}.${stayed.length ? ` Stayed: ${stayed.join(', ')}.` : ''}`;
      after();
    } catch (x) { err.textContent = x.message; }
  } },
  h('label', { for: 'move-mode' }, 'Move'), mode,
  h('label', { for: 'move-destination' }, 'Destination queue'), dest,
  h('label', { for: 'move-count' }, 'At most'), count,
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Move messages'), note), err);
  return h('div', {}, h('h2', {}, 'Move messages'), h('section', { class: 'card' }, form));
}

// --- One channel: details, message rates.
async function channelPage(name) {
  const path = `/api/channels/${enc(name)}`;
  const facts = h('dl', { class: 'facts', id: 'channel-facts' });
  const rates = liveChart([
    { key: 'publish', label: 'Publish', color: '#2f6fde', format: fmt.rate },
    { key: 'deliver', label: 'Deliver / get', color: '#2e7d32', format: fmt.rate },
    { key: 'ack', label: 'Ack', color: '#8e24aa', format: fmt.rate },
  ]);
  const draw = async () => {
    const c = await api('GET', path);
    const ms = c.message_stats;
    rates.add({ publish: rateOf(ms, 'publish'), deliver: rateOf(ms, 'deliver_get'), ack: rateOf(ms, 'ack') });
    const conn = (c.connection_details || {}).name;
    facts.replaceChildren(
      h('dt', {}, 'Connection'), h('dd', {}, conn ? h('a', { href: `#/connections/${enc(conn)}` }, conn) : ''),
      h('dt', {}, 'User'), h('dd', {}, c.user), h('dt', {}, 'Virtual host'), h('dd', {}, c.vhost),
      h('dt', {}, 'Mode'), h('dd', {}, c.confirm ? 'confirm' : c.transactional ? 'transactional' : 'normal'),
      h('dt', {}, 'Prefetch'), h('dd', {}, `${fmt.int(c.prefetch_count)} per consumer, ${fmt.int(c.global_prefetch_count)} per channel`),
      h('dt', {}, 'Unacked'), h('dd', {}, fmt.int(c.messages_unacknowledged)),
      h('dt', {}, 'Consumers'), h('dd', {}, fmt.int(c.consumer_count)));
  };
  await draw();
  show(h('h1', {}, `Channel ${name}`), h('section', { class: 'card' }, facts),
    h('h2', {}, 'Message rates'), h('section', { class: 'card' }, rates.box));
  every(5000, draw);
}

// --- One connection: details, data rates, channels, close.
async function connectionPage(name) {
  const path = `/api/connections/${enc(name)}`;
  const facts = h('dl', { class: 'facts', id: 'connection-facts' });
  const channels = h('div', { id: 'connection-channels' });
  const rates = liveChart([
    { key: 'recv', label: 'Received', color: '#2f6fde', format: (n) => `${fmt.bytes(n)}/s` },
    { key: 'send', label: 'Sent', color: '#2e7d32', format: (n) => `${fmt.bytes(n)}/s` },
  ]);
  const draw = async () => {
    const [c, chans] = await Promise.all([api('GET', path), api('GET', `${path}/channels`)]);
    rates.add({ recv: rateOf(c, 'recv_oct'), send: rateOf(c, 'send_oct') });
    const client = c.client_properties || {};
    facts.replaceChildren(
      h('dt', {}, 'User'), h('dd', {}, c.user), h('dt', {}, 'Virtual host'), h('dd', {}, c.vhost),
      h('dt', {}, 'Client'), h('dd', {}, [client.product, client.version, client.platform].filter(Boolean).join(' ')),
      h('dt', {}, 'Peer'), h('dd', {}, `${c.peer_host}:${c.peer_port}`),
      h('dt', {}, 'Protocol'), h('dd', {}, c.ssl ? `${c.protocol} over ${c.ssl_protocol}` : c.protocol),
      h('dt', {}, 'Heartbeat'), h('dd', {}, `${c.timeout}s`), h('dt', {}, 'Frame max'), h('dd', {}, fmt.bytes(c.frame_max)),
      h('dt', {}, 'Channels'), h('dd', {}, fmt.int(c.channels)),
      h('dt', {}, 'Received / sent'), h('dd', {}, `${fmt.bytes(c.recv_oct)} / ${fmt.bytes(c.send_oct)}`));
    channels.replaceChildren(chans.length ? h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, ['Channel', 'Prefetch', 'Unacked', 'Consumers', 'Mode'].map((t) => h('th', {}, t)))),
      h('tbody', {}, chans.map((ch) => h('tr', {}, h('td', {}, h('a', { href: `#/channels/${enc(ch.name)}` }, ch.name)), h('td', { class: 'num' }, fmt.int(ch.prefetch_count)),
        h('td', { class: 'num' }, fmt.int(ch.messages_unacknowledged)), h('td', { class: 'num' }, fmt.int(ch.consumer_count)),
        h('td', {}, ch.confirm ? 'confirm' : ch.transactional ? 'transactional' : '')))))) : h('p', { class: 'muted' }, 'No channels'));
  };
  await draw();
  show(h('h1', {}, `Connection ${name}`), h('section', { class: 'card' }, facts),
    h('h2', {}, 'Data rates'), h('section', { class: 'card' }, rates.box),
    h('h2', {}, 'Channels'), h('section', { class: 'card' }, channels),
    h('section', { class: 'card toolbar' }, h('button', { type: 'button', class: 'danger', id: 'close-connection', onclick: () => closeConnection(name, '#/connections') }, 'Force close')));
  every(5000, draw);
}

function publishForm(vhost, queue, after) {
  const err = h('div', { class: 'error', role: 'alert' });
  const note = h('span', { class: 'notice', role: 'status' });
  const payload = h('textarea', { id: 'publish-payload' });
  const headers = h('textarea', { id: 'publish-headers', placeholder: 'key = value' });
  const props = h('textarea', { id: 'publish-properties', placeholder: 'content_type = text/plain' });
  const mode = h('select', { id: 'publish-delivery-mode' }, h('option', { value: '1' }, '1 - Non-persistent'), h('option', { value: '2' }, '2 - Persistent'));
  const form = h('form', { class: 'grid', id: 'publish', onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    note.textContent = '';
    try {
      const r = await api('POST', `/api/exchanges/${enc(vhost)}/amq.default/publish`, {
        routing_key: queue, payload: payload.value, payload_encoding: 'string',
        properties: { ...parseArguments(props.value), delivery_mode: Number(mode.value), headers: parseArguments(headers.value) },
      });
      note.textContent = r.routed ? 'Message published.' : 'Message published, but not routed.';
      after();
    } catch (x) { err.textContent = x.message; }
  } },
  h('label', { for: 'publish-delivery-mode' }, 'Delivery mode'), mode,
  h('label', { for: 'publish-headers' }, 'Headers'), headers,
  h('label', { for: 'publish-properties' }, 'Properties'), h('div', {}, props,
    h('div', { class: 'muted' }, 'content_type, content_encoding, priority, correlation_id, reply_to, expiration, message_id, timestamp, type, user_id, app_id')),
  h('label', { for: 'publish-payload' }, 'Payload'), payload,
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Publish message'), note), err);
  return h('div', {}, h('h2', {}, 'Publish message'), h('section', { class: 'card' }, form));
}

function getForm(path, after) {
  const err = h('div', { class: 'error', role: 'alert' });
  const out = h('div', { id: 'messages' });
  const ackmode = h('select', { id: 'get-ackmode' },
    h('option', { value: 'ack_requeue_true' }, 'Nack message requeue true'),
    h('option', { value: 'ack_requeue_false' }, 'Automatic ack'),
    h('option', { value: 'reject_requeue_true' }, 'Reject requeue true'),
    h('option', { value: 'reject_requeue_false' }, 'Reject requeue false'));
  const encoding = h('select', { id: 'get-encoding' }, h('option', { value: 'auto' }, 'Auto string / base64'), h('option', { value: 'base64' }, 'base64'));
  const count = h('input', { id: 'get-count', type: 'number', min: '1', value: '1' });
  const form = h('form', { class: 'grid', id: 'get', onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    try {
      const msgs = await api('POST', `${path}/get`, { count: Number(count.value), ackmode: ackmode.value, encoding: encoding.value, truncate: 50000 });
      out.replaceChildren(msgs.length ? '' : h('p', { class: 'muted' }, 'Queue is empty'),
        ...msgs.map((m, i) => messageCard(`Message ${i + 1}`, `routing key ${m.routing_key}, ${m.redelivered ? 'redelivered' : 'first delivery'}, ${m.message_count} left`, m)));
      after();
    } catch (x) { err.textContent = x.message; }
  } },
  h('label', { for: 'get-ackmode' }, 'Ack mode'), ackmode,
  h('label', { for: 'get-encoding' }, 'Encoding'), encoding,
  h('label', { for: 'get-count' }, 'Messages'), count,
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Get messages')), err);
  return h('div', {}, h('h2', {}, 'Get messages'), h('section', { class: 'card' }, form, out));
}

function dangerForm(path, vhost, after) {
  const err = h('div', { class: 'error', role: 'alert' });
  const note = h('span', { class: 'notice', role: 'status' });
  return h('div', {}, h('h2', {}, 'Purge or delete'), h('section', { class: 'card toolbar' },
    h('button', { type: 'button', id: 'purge', class: 'danger', onclick: async () => {
      err.textContent = '';
      try { await api('DELETE', `${path}/contents`); note.textContent = 'Queue purged.'; after(); } catch (x) { err.textContent = x.message; }
    } }, 'Purge messages'),
    h('button', { type: 'button', id: 'delete-queue', class: 'danger', onclick: async () => {
      if (!confirm('Delete this queue and its messages?')) return;
      try { await api('DELETE', path); location.hash = '#/queues'; } catch (x) { err.textContent = x.message; }
    } }, 'Delete queue'), note, err));
}
