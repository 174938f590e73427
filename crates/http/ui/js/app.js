// The router: RabbitMQ's routes (#/queues/%2F/name), so bookmarks carry
// over. Loaded last, after the pages.
'use strict';

// --- Router.
const routes = [
  [/^#?\/?$/, overviewPage],
  [/^#\/queues\/([^/]+)\/(.+)$/, (m) => queuePage(decodeURIComponent(m[1]), decodeURIComponent(m[2]))],
  [/^#\/queues$/, () => listPage(lists.queues)],
  [/^#\/connections\/(.+)$/, (m) => connectionPage(decodeURIComponent(m[1]))],
  [/^#\/connections$/, () => listPage(lists.connections)],
  [/^#\/channels\/(.+)$/, (m) => channelPage(decodeURIComponent(m[1]))],
  [/^#\/channels$/, () => listPage(lists.channels)],
  [/^#\/exchanges\/([^/]+)\/(.*)$/, (m) => exchangePage(decodeURIComponent(m[1]), decodeURIComponent(m[2]))],
  [/^#\/exchanges$/, () => listPage(lists.exchanges)],
  [/^#\/users\/(.+)$/, (m) => userPage(decodeURIComponent(m[1]))],
  [/^#\/users$/, () => listPage(lists.users)],
  [/^#\/vhosts\/(.+)$/, (m) => vhostPage(decodeURIComponent(m[1]))],
  [/^#\/vhosts$/, () => listPage(lists.vhosts)],
  [/^#\/policies$/, () => listPage(lists.policies)],
];

async function route() {
  stopRefresh();
  if (!sessionStorage.getItem(KEY)) return loginPage();
  if (!me) {
    try { me = await api('GET', '/api/whoami'); } catch (_) { return loginPage(); }
  }
  document.getElementById('tabs').hidden = false;
  document.getElementById('who').hidden = false;
  document.getElementById('who-name').textContent = `${me.name} (${me.tags.join(', ') || 'no tags'})`;
  for (const a of document.querySelectorAll('nav a')) {
    a.hidden = (a.hasAttribute('data-admin') && !isAdmin()) || (a.hasAttribute('data-policy') && !mayPolicy());
    const base = a.getAttribute('href');
    a.classList.toggle('active', base === '#/' ? location.hash === '' || location.hash === '#/' : location.hash.startsWith(base));
  }
  const hash = location.hash || '#/';
  for (const [re, page] of routes) {
    const m = hash.match(re);
    if (m) {
      try { await page(m); } catch (x) { show(h('p', { class: 'error' }, x.message)); }
      return;
    }
  }
  show(h('p', {}, 'Not found. ', h('a', { href: '#/' }, 'Overview')));
}

window.addEventListener('hashchange', route);

route();
