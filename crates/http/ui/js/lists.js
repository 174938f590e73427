// Lists (sortable, filterable by regex, paginated by the API) and the
// small forms they carry.
'use strict';

// --- Lists: sortable, filterable (regex), paginated, all by the API.
const vhostLink = (q) => `#/queues/${enc(q.vhost)}/${enc(q.name)}`;
const lists = {
  queues: {
    title: 'Queues', path: '/api/queues', sort: 'name',
    columns: [
      ['Virtual host', 'vhost'],
      ['Name', 'name', (q) => h('a', { href: vhostLink(q) }, q.name)],
      ['Type', 'type'],
      ['State', 'state'],
      ['Ready', 'messages_ready', (q) => fmt.int(q.messages_ready), 'num'],
      ['Unacked', 'messages_unacknowledged', (q) => fmt.int(q.messages_unacknowledged), 'num'],
      ['Total', 'messages', (q) => fmt.int(q.messages), 'num'],
      ['Consumers', 'consumers', (q) => fmt.int(q.consumers), 'num'],
    ],
    extra: addQueueForm,
  },
  connections: {
    title: 'Connections', path: '/api/connections', sort: 'name',
    columns: [
      ['Name', 'name', (c) => h('a', { href: `#/connections/${enc(c.name)}` }, c.name)], ['User', 'user'], ['Virtual host', 'vhost'],
      ['TLS', 'ssl', (c) => (c.ssl ? c.ssl_protocol : 'no')],
      ['Channels', 'channels', (c) => fmt.int(c.channels), 'num'],
      ['Client', 'client_properties.product', (c) => (c.client_properties || {}).product || ''],
      ['', null, (c) => h('button', { type: 'button', class: 'danger', onclick: () => closeConnection(c.name) }, 'Close')],
    ],
  },
  channels: {
    title: 'Channels', path: '/api/channels', sort: 'name',
    columns: [['Name', 'name', (c) => h('a', { href: `#/channels/${enc(c.name)}` }, c.name)], ['User', 'user'], ['Virtual host', 'vhost'],
      ['Prefetch', 'prefetch_count', (c) => fmt.int(c.prefetch_count), 'num'],
      ['Unacked', 'messages_unacknowledged', (c) => fmt.int(c.messages_unacknowledged), 'num'],
      ['Consumers', 'consumer_count', (c) => fmt.int(c.consumer_count), 'num']],
  },
  exchanges: {
    title: 'Exchanges', path: '/api/exchanges', sort: 'name',
    columns: [['Virtual host', 'vhost'],
      ['Name', 'name', (x) => h('a', { href: `#/exchanges/${enc(x.vhost)}/${enc(x.name || 'amq.default')}` }, x.name || '(AMQP default)')],
      ['Type', 'type'],
      ['Durable', 'durable', (x) => (x.durable ? 'yes' : 'no')], ['Internal', 'internal', (x) => (x.internal ? 'yes' : 'no')]],
    extra: addExchangeForm,
  },
  users: {
    title: 'Users', path: '/api/users', sort: 'name',
    columns: [['Name', 'name', (u) => h('a', { href: `#/users/${enc(u.name)}` }, u.name)], ['Tags', 'tags', (u) => (Array.isArray(u.tags) ? u.tags.join(', ') : u.tags)],
      ['', null, (u) => deleteButton(`/api/users/${enc(u.name)}`, `user ${u.name}`)]],
    extra: addUserForm,
  },
  vhosts: {
    title: 'Virtual hosts', path: '/api/vhosts', sort: 'name',
    columns: [['Name', 'name', (v) => h('a', { href: `#/vhosts/${enc(v.name)}` }, v.name)], ['Ready', 'messages_ready', (v) => fmt.int(v.messages_ready), 'num'],
      ['Unacked', 'messages_unacknowledged', (v) => fmt.int(v.messages_unacknowledged), 'num'],
      ['', null, (v) => deleteButton(`/api/vhosts/${enc(v.name)}`, `virtual host ${v.name} and everything in it`)]],
    extra: (reload) => simpleForm('Add a virtual host', 'add-vhost', [['vhost-name', 'Name']], async (f) => {
      await api('PUT', `/api/vhosts/${enc(f['vhost-name'])}`, {});
    }, reload),
  },
  policies: {
    title: 'Policies', path: '/api/policies', sort: 'name',
    columns: [['Virtual host', 'vhost'], ['Name', 'name'], ['Pattern', 'pattern'], ['Apply to', 'apply-to'],
      ['Definition', 'definition', (p) => JSON.stringify(p.definition)], ['Priority', 'priority', null, 'num'],
      ['', null, (p) => deleteButton(`/api/policies/${enc(p.vhost)}/${enc(p.name)}`, `policy ${p.name}`)]],
    extra: (reload) => h('div', {}, simpleForm('Add or update a policy', 'add-policy', [
      ['policy-vhost', 'Virtual host', '/'], ['policy-name', 'Name'], ['policy-pattern', 'Pattern', '^'],
      ['policy-apply-to', 'Apply to', 'queues', ['queues', 'exchanges', 'all', 'classic_queues', 'quorum_queues']],
      ['policy-priority', 'Priority', '0'], ['policy-definition', 'Definition', '', 'textarea'],
    ], async (f) => {
      await api('PUT', `/api/policies/${enc(f['policy-vhost'])}/${enc(f['policy-name'])}`, {
        pattern: f['policy-pattern'], 'apply-to': f['policy-apply-to'], priority: Number(f['policy-priority'] || 0),
        definition: parseArguments(f['policy-definition']),
      });
    }, reload), isAdmin() ? operatorPolicies() : ''),
  },
};

function deleteButton(path, what) {
  return h('button', { type: 'button', class: 'danger', onclick: async (e) => {
    if (!confirm(`Delete ${what}?`)) return;
    try { await api('DELETE', path); route(); } catch (x) { e.target.replaceWith(h('span', { class: 'error', role: 'alert' }, x.message)); }
  } }, 'Delete');
}

// A form of labelled fields: [id, label, default, options or 'textarea'].
// `submit` gets the values by id; the broker's refusal shows in the form.
function simpleForm(title, id, fields, submit, after) {
  const err = h('div', { class: 'error', role: 'alert' });
  const inputs = fields.map(([fid, , value, kind]) => (Array.isArray(kind)
    ? h('select', { id: fid }, kind.map((o) => h('option', { value: o, selected: o === value }, o)))
    : kind === 'textarea' ? h('textarea', { id: fid, placeholder: 'key = value' }) : h('input', { id: fid, value: value || '' })));
  const form = h('form', { class: 'grid', id, onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    try {
      await submit(Object.fromEntries(inputs.map((i) => [i.id, i.value])));
      if (after) after();
    } catch (x) { err.textContent = x.message; }
  } }, fields.map(([fid, label], i) => [h('label', { for: fid }, label), inputs[i]]),
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, title.replace(/^Add( or update)? an? /, 'Add '))), err);
  return h('div', {}, h('h2', {}, title), h('section', { class: 'card' }, form));
}

async function listPage(spec) {
  const state = { page: 1, size: 100, filter: '', sort: spec.sort, reverse: false };
  const body = h('div', {});
  const err = h('div', { class: 'error', role: 'alert' });
  const filter = h('input', { type: 'search', id: 'filter', placeholder: 'Filter (regex)', 'aria-label': 'Filter by name (regular expression)' });
  let debounce = null;
  filter.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => { state.filter = filter.value; state.page = 1; load(); }, 250);
  });
  const count = h('span', { class: 'muted grow' });
  async function load() {
    const qs = new URLSearchParams({ page: state.page, page_size: state.size, name: state.filter, use_regex: 'true', sort: state.sort, sort_reverse: state.reverse, pagination: 'true' });
    let res;
    try {
      res = await api('GET', `${spec.path}?${qs}`);
      err.textContent = '';
    } catch (x) {
      err.textContent = x.message;
      return;
    }
    count.textContent = `${fmt.int(res.filtered_count)} of ${fmt.int(res.total_count)} match`;
    const head = h('tr', {}, spec.columns.map(([label, key, , cls]) => h('th', {
      class: [cls, key && key === state.sort ? 'sorted' : '', key === state.sort && state.reverse ? 'rev' : ''].filter(Boolean).join(' ') || undefined,
      scope: 'col',
      tabindex: key ? '0' : undefined,
      onclick: key ? () => { state.reverse = state.sort === key ? !state.reverse : false; state.sort = key; load(); } : undefined,
      onkeydown: key ? (e) => { if (e.key === 'Enter') e.target.click(); } : undefined,
    }, label)));
    const rows = res.items.map((item) => h('tr', {}, spec.columns.map(([, key, render, cls]) => h('td', { class: cls }, render ? render(item) : String(key.split('.').reduce((v, k) => (v == null ? v : v[k]), item) ?? '')))));
    const pager = h('div', { class: 'pager' },
      h('button', { type: 'button', class: 'secondary', disabled: state.page <= 1, onclick: () => { state.page -= 1; load(); } }, 'Previous'),
      `Page ${res.page} of ${Math.max(1, res.page_count)}`,
      h('button', { type: 'button', class: 'secondary', disabled: state.page >= res.page_count, onclick: () => { state.page += 1; load(); } }, 'Next'));
    body.replaceChildren(h('div', { class: 'table-wrap' }, h('table', { id: 'list' }, h('thead', {}, head), h('tbody', {}, rows))), pager);
  }
  show(h('h1', {}, spec.title), h('div', { class: 'toolbar' }, filter, count), err, body, spec.extra ? spec.extra(load) : '');
  await load();
  every(5000, load);
}

// Closes a connection with the reason its client is told; then `next`
// (a route) or the current page again.
async function closeConnection(name, next) {
  const reason = prompt(`Close connection ${name}? Reason:`, 'Closed via management UI');
  if (reason === null) return;
  try {
    await fetch(`/api/connections/${enc(name)}`, { method: 'DELETE', headers: { Authorization: `Basic ${sessionStorage.getItem(KEY)}`, 'X-Requested-With': 'XMLHttpRequest', 'X-Reason': reason } });
  } finally {
    if (next && location.hash !== next) location.hash = next; else route();
  }
}

// Arguments typed as `key = value` lines: numbers and booleans become JSON
// numbers and booleans, as RabbitMQ's form types them.
function parseArguments(text) {
  const args = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const i = line.indexOf('=');
    if (i < 0) throw new Error(`"${line.trim()}": write key = value`);
    const k = line.slice(0, i).trim();
    const v = line.slice(i + 1).trim();
    args[k] = /^-?\d+$/.test(v) ? Number(v) : v === 'true' ? true : v === 'false' ? false : v;
  }
  return args;
}

const KNOWN_QUEUE_ARGS = ['x-message-ttl', 'x-expires', 'x-max-length', 'x-max-length-bytes', 'x-overflow',
  'x-dead-letter-exchange', 'x-dead-letter-routing-key', 'x-max-priority', 'x-queue-type', 'x-single-active-consumer',
  'x-queue-mode', 'x-consumer-timeout'];

const KNOWN_EXCHANGE_ARGS = ['alternate-exchange', 'x-delayed-type'];

// The known arguments as links that add their key to `textarea`, as
// RabbitMQ's forms offer them.
function knownArguments(textarea, names) {
  return h('div', { class: 'muted' }, 'Add: ', names.map((a) => [h('a', { href: '#', onclick: (e) => {
    e.preventDefault();
    textarea.value += `${textarea.value && !textarea.value.endsWith('\n') ? '\n' : ''}${a} = `;
    textarea.focus();
  } }, a), ' ']));
}

function addQueueForm(reload) {
  const err = h('div', { class: 'error', role: 'alert' });
  const vhost = h('input', { id: 'queue-vhost', value: '/' });
  const name = h('input', { id: 'queue-name', required: true });
  const durable = h('select', { id: 'queue-durable' }, h('option', { value: 'true' }, 'Durable'), h('option', { value: 'false' }, 'Transient'));
  const args = h('textarea', { id: 'queue-arguments', placeholder: 'x-message-ttl = 60000' });
  const known = knownArguments(args, KNOWN_QUEUE_ARGS);
  const form = h('form', { class: 'grid', id: 'add-queue', onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    try {
      await api('PUT', `/api/queues/${enc(vhost.value)}/${enc(name.value)}`, { durable: durable.value === 'true', auto_delete: false, arguments: parseArguments(args.value) });
      name.value = '';
      args.value = '';
      reload();
    } catch (x) { err.textContent = x.message; }
  } },
  h('label', { for: 'queue-vhost' }, 'Virtual host'), vhost,
  h('label', { for: 'queue-name' }, 'Name'), name,
  h('label', { for: 'queue-durable' }, 'Durability'), durable,
  h('label', { for: 'queue-arguments' }, 'Arguments'), h('div', {}, args, known),
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Add queue')), err);
  return h('div', {}, h('h2', {}, 'Add a queue'), h('section', { class: 'card' }, form));
}

function addUserForm(reload) {
  const err = h('div', { class: 'error', role: 'alert' });
  const name = h('input', { id: 'user-name', required: true });
  const pass = h('input', { id: 'user-password', type: 'password', required: true, autocomplete: 'new-password' });
  const tagsInput = h('input', { id: 'user-tags', placeholder: 'management, policymaker, monitoring, administrator' });
  const form = h('form', { class: 'grid', id: 'add-user', onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    try {
      await api('PUT', `/api/users/${enc(name.value)}`, { password: pass.value, tags: tagsInput.value });
      await api('PUT', `/api/permissions/%2F/${enc(name.value)}`, { configure: '.*', write: '.*', read: '.*' });
      name.value = '';
      pass.value = '';
      reload();
    } catch (x) { err.textContent = x.message; }
  } },
  h('label', { for: 'user-name' }, 'Username'), name,
  h('label', { for: 'user-password' }, 'Password'), pass,
  h('label', { for: 'user-tags' }, 'Tags'), tagsInput,
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Add user')),
  h('p', { class: 'muted', style: 'grid-column: 1 / -1' }, 'The new user gets every permission on the virtual host "/".'), err);
  return h('div', {}, h('h2', {}, 'Add a user'), h('section', { class: 'card' }, form));
}

function addExchangeForm(reload) {
  const form = simpleForm('Add an exchange', 'add-exchange', [
    ['exchange-vhost', 'Virtual host', '/'], ['exchange-name', 'Name'],
    ['exchange-type', 'Type', 'direct', ['direct', 'fanout', 'topic', 'headers', 'x-delayed-message', 'x-consistent-hash']],
    ['exchange-durable', 'Durability', 'true', ['true', 'false']],
    ['exchange-arguments', 'Arguments', '', 'textarea'],
  ], async (f) => {
    await api('PUT', `/api/exchanges/${enc(f['exchange-vhost'])}/${enc(f['exchange-name'])}`, {
      type: f['exchange-type'], durable: f['exchange-durable'] === 'true', auto_delete: false, internal: false,
      arguments: parseArguments(f['exchange-arguments']),
    });
  }, reload);
  const args = form.querySelector('#exchange-arguments');
  args.after(knownArguments(args, KNOWN_EXCHANGE_ARGS));
  return form;
}
