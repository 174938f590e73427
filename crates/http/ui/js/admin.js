// Administration pages: one user (tags, password, permissions, topic
// permissions, limits), one virtual host (permissions, limits), and the
// operator policies beside the policies. Each form shows the broker's own
// refusal next to it.
'use strict';

// A table of rows, each with an optional remove action; empty says so.
function tableOf(headers, rows, empty) {
  if (!rows.length) return h('p', { class: 'muted' }, empty);
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((c) => h('td', {}, c)))))));
}

function removeButton(path, after, label = 'Clear') {
  return h('button', { type: 'button', class: 'secondary', onclick: async (e) => {
    try { await api('DELETE', path); after(); } catch (x) { e.target.replaceWith(h('span', { class: 'error', role: 'alert' }, x.message)); }
  } }, label);
}

// A section whose content `load` (re)builds from the API.
function liveSection(title, id, load) {
  const box = h('div', { id });
  const reload = async () => {
    try { box.replaceChildren(await load(reload)); } catch (x) { box.replaceChildren(h('p', { class: 'error' }, x.message)); }
  };
  return { node: h('div', {}, h('h2', {}, title), h('section', { class: 'card' }, box)), reload };
}

// Limits as RabbitMQ stores them (`[{"value": {"max-connections": 10}}]`),
// with a form that sets one (`PUT base/name {"value": n}`).
function limitsSection(base, names, formId) {
  const section = liveSection('Limits', `${formId}-list`, async (reload) => {
    const [entry] = await api('GET', base);
    const value = (entry && entry.value) || {};
    return tableOf(['Limit', 'Value', ''], Object.entries(value).map(([k, v]) => [k, fmt.int(v), removeButton(`${base}/${enc(k)}`, reload)]), 'No limits');
  });
  const form = simpleForm('Set limit', formId, [[`${formId}-name`, 'Limit', names[0], names], [`${formId}-value`, 'Value (-1: none)']], async (f) => {
    // A whole number goes as a number; anything else as typed, and the
    // broker's refusal is shown.
    const typed = f[`${formId}-value`].trim();
    await api('PUT', `${base}/${enc(f[`${formId}-name`])}`, { value: /^-?\d+$/.test(typed) ? Number(typed) : typed });
  }, section.reload);
  return { nodes: [section.node, form], reload: section.reload };
}

async function userPage(name) {
  const path = `/api/users/${enc(name)}`;
  const user = await api('GET', path);
  const facts = h('dl', { class: 'facts' }, h('dt', {}, 'Name'), h('dd', {}, user.name),
    h('dt', {}, 'Tags'), h('dd', { id: 'user-tags-now' }, (Array.isArray(user.tags) ? user.tags : [user.tags]).join(', ') || 'none'),
    h('dt', {}, 'Password'), h('dd', {}, user.password_hash ? 'set' : 'none (no password login)'));
  const update = simpleForm('Update this user', 'update-user', [
    ['update-tags', 'Tags', (Array.isArray(user.tags) ? user.tags : [user.tags]).join(',')],
    ['update-password', 'New password (blank: keep)'],
  ], async (f) => {
    const body = { tags: f['update-tags'] };
    // Without a new password the stored hash is sent back, so it is kept.
    if (f['update-password']) body.password = f['update-password'];
    else { body.password_hash = user.password_hash; body.hashing_algorithm = user.hashing_algorithm; }
    await api('PUT', path, body);
  }, () => route());
  const perms = liveSection('Permissions', 'user-permissions', async (reload) => tableOf(['Virtual host', 'Configure', 'Write', 'Read', ''],
    (await api('GET', `${path}/permissions`)).map((p) => [p.vhost, p.configure, p.write, p.read, removeButton(`/api/permissions/${enc(p.vhost)}/${enc(name)}`, reload)]),
    'No permissions'));
  const permForm = simpleForm('Set permission', 'set-permission', [
    ['perm-vhost', 'Virtual host', '/'], ['perm-configure', 'Configure regexp', '.*'], ['perm-write', 'Write regexp', '.*'], ['perm-read', 'Read regexp', '.*'],
  ], async (f) => {
    await api('PUT', `/api/permissions/${enc(f['perm-vhost'])}/${enc(name)}`, { configure: f['perm-configure'], write: f['perm-write'], read: f['perm-read'] });
  }, perms.reload);
  const topics = liveSection('Topic permissions', 'user-topic-permissions', async (reload) => tableOf(['Virtual host', 'Exchange', 'Write', 'Read', ''],
    (await api('GET', `${path}/topic-permissions`)).map((p) => [p.vhost, p.exchange, p.write, p.read,
      removeButton(`/api/topic-permissions/${enc(p.vhost)}/${enc(name)}/${enc(p.exchange)}`, reload)]),
    'No topic permissions'));
  const topicForm = simpleForm('Set topic permission', 'set-topic-permission', [
    ['topic-vhost', 'Virtual host', '/'], ['topic-exchange', 'Exchange', 'amq.topic'], ['topic-write', 'Write regexp', '.*'], ['topic-read', 'Read regexp', '.*'],
  ], async (f) => {
    await api('PUT', `/api/topic-permissions/${enc(f['topic-vhost'])}/${enc(name)}`, { exchange: f['topic-exchange'], write: f['topic-write'], read: f['topic-read'] });
  }, topics.reload);
  const limits = limitsSection(`/api/user-limits/${enc(name)}`, ['max-connections', 'max-channels'], 'user-limit');
  show(h('h1', {}, `User ${name}`), h('section', { class: 'card' }, facts), update,
    perms.node, permForm, topics.node, topicForm, ...limits.nodes,
    h('section', { class: 'card toolbar' }, deleteButton(path, `user ${name}`)));
  await Promise.all([perms.reload(), topics.reload(), limits.reload()]);
}

async function vhostPage(name) {
  const path = `/api/vhosts/${enc(name)}`;
  const v = await api('GET', path);
  const facts = h('dl', { class: 'facts' }, h('dt', {}, 'Name'), h('dd', {}, v.name),
    h('dt', {}, 'Description'), h('dd', {}, v.description || ''),
    h('dt', {}, 'Default queue type'), h('dd', {}, v.default_queue_type || 'classic'),
    h('dt', {}, 'Messages ready / unacked'), h('dd', {}, `${fmt.int(v.messages_ready || 0)} / ${fmt.int(v.messages_unacknowledged || 0)}`));
  const perms = liveSection('Permissions', 'vhost-permissions', async (reload) => tableOf(['User', 'Configure', 'Write', 'Read', ''],
    (await api('GET', `${path}/permissions`)).map((p) => [p.user, p.configure, p.write, p.read, removeButton(`/api/permissions/${enc(name)}/${enc(p.user)}`, reload)]),
    'No permissions'));
  const permForm = simpleForm('Set permission', 'set-vhost-permission', [
    ['vperm-user', 'User'], ['vperm-configure', 'Configure regexp', '.*'], ['vperm-write', 'Write regexp', '.*'], ['vperm-read', 'Read regexp', '.*'],
  ], async (f) => {
    await api('PUT', `/api/permissions/${enc(name)}/${enc(f['vperm-user'])}`, { configure: f['vperm-configure'], write: f['vperm-write'], read: f['vperm-read'] });
  }, perms.reload);
  const limits = limitsSection(`/api/vhost-limits/${enc(name)}`, ['max-connections', 'max-queues'], 'vhost-limit');
  show(h('h1', {}, `Virtual host ${name}`), h('section', { class: 'card' }, facts), perms.node, permForm, ...limits.nodes,
    h('section', { class: 'card toolbar' }, deleteButton(path, `virtual host ${name} and everything in it`)));
  await Promise.all([perms.reload(), limits.reload()]);
}

// Operator policies (administrators): the same form as policies, under
// /api/operator-policies, which caps what user policies and arguments set.
function operatorPolicies() {
  const section = liveSection('Operator policies', 'operator-policies', async (reload) => tableOf(
    ['Virtual host', 'Name', 'Pattern', 'Apply to', 'Definition', 'Priority', ''],
    (await api('GET', '/api/operator-policies')).map((p) => [p.vhost, p.name, p.pattern, p['apply-to'], JSON.stringify(p.definition), String(p.priority),
      removeButton(`/api/operator-policies/${enc(p.vhost)}/${enc(p.name)}`, reload, 'Delete')]),
    'No operator policies'));
  const form = simpleForm('Add or update an operator policy', 'add-operator-policy', [
    ['opolicy-vhost', 'Virtual host', '/'], ['opolicy-name', 'Name'], ['opolicy-pattern', 'Pattern', '^'],
    ['opolicy-apply-to', 'Apply to', 'queues', ['queues', 'classic_queues', 'quorum_queues']],
    ['opolicy-priority', 'Priority', '0'], ['opolicy-definition', 'Definition', '', 'textarea'],
  ], async (f) => {
    await api('PUT', `/api/operator-policies/${enc(f['opolicy-vhost'])}/${enc(f['opolicy-name'])}`, {
      pattern: f['opolicy-pattern'], 'apply-to': f['opolicy-apply-to'], priority: Number(f['opolicy-priority'] || 0),
      definition: parseArguments(f['opolicy-definition']),
    });
  }, section.reload);
  section.reload();
  return h('div', {}, section.node, form);
}
