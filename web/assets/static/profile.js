// clerksync profile page: Sync User Data without a reload, live relative times, avatar
// fallback, copy buttons. The page works without this script (the form posts and the
// server redirects back); this only makes it nicer.
(function () {
  'use strict';

  var labels = {
    first_name: 'First name', last_name: 'Last name', email: 'Email',
    email_verified: 'Email verified', username: 'Username', phone: 'Phone',
    image_url: 'Avatar', external_id: 'External ID', public_metadata: 'Public metadata',
    unsafe_metadata: 'Unsafe metadata', banned: 'Banned', locked: 'Locked',
    organizations: 'Organizations'
  };

  function $(sel, root) { return (root || document).querySelector(sel); }

  function relative(date) {
    var s = Math.max(0, Math.round((Date.now() - date.getTime()) / 1000));
    if (s < 10) return 'just now';
    if (s < 60) return s + ' seconds ago';
    var m = Math.floor(s / 60);
    if (m < 60) return m === 1 ? '1 minute ago' : m + ' minutes ago';
    var h = Math.floor(m / 60);
    if (h < 24) return h === 1 ? '1 hour ago' : h + ' hours ago';
    var d = Math.floor(h / 24);
    return d === 1 ? '1 day ago' : d + ' days ago';
  }

  function absolute(date) {
    try {
      return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
    } catch (e) {
      return date.toISOString();
    }
  }

  function refreshTimes() {
    var t = $('[data-field="synced_rel"]');
    if (!t) return;
    var d = new Date(t.getAttribute('datetime'));
    if (isNaN(d)) return;
    t.textContent = relative(d);
    var abs = $('[data-field="synced_abs"]');
    if (abs) abs.textContent = absolute(d);
    t.title = abs ? abs.textContent : '';
  }

  function initials(p) {
    var a = (p.first_name || '').charAt(0) + (p.last_name || '').charAt(0);
    if (!a) a = (p.username || p.email || '?').charAt(0);
    return a.toUpperCase();
  }

  function setAvatar(p) {
    var box = $('[data-field="avatar"]');
    if (!box) return;
    $('.avatar-initials', box).textContent = initials(p);
    var img = $('.avatar-img', box);
    if (!p.image_url) {
      if (img) img.remove();
      return;
    }
    if (!img) {
      img = document.createElement('img');
      img.className = 'avatar-img';
      img.alt = '';
      img.width = img.height = 88;
      img.referrerPolicy = 'no-referrer';
      box.appendChild(img);
    }
    watchAvatar(img);
    if (img.getAttribute('src') !== p.image_url) img.src = p.image_url;
  }

  function watchAvatar(img) {
    if (img.dataset.watched) return;
    img.dataset.watched = '1';
    img.addEventListener('error', function () { img.hidden = true; });
    img.addEventListener('load', function () { img.hidden = false; });
    if (img.complete && img.naturalWidth === 0 && img.getAttribute('src')) img.hidden = true;
  }

  function text(el, value, prefix) {
    if (!el) return;
    el.textContent = '';
    if (value === null || value === undefined || value === '') {
      var span = document.createElement('span');
      span.className = 'empty';
      span.textContent = '—';
      el.appendChild(span);
      return;
    }
    el.textContent = (prefix || '') + value;
  }

  function code(el, value) {
    if (!el) return;
    if (!value) return text(el, null);
    el.textContent = '';
    var c = document.createElement('code');
    c.className = 'mono';
    c.textContent = value;
    el.appendChild(c);
  }

  function badge(kind, label) {
    var b = document.createElement('span');
    b.className = 'badge badge-' + kind;
    b.textContent = label;
    return b;
  }

  // The header names the signed-in user as the server does: name and email address,
  // else the email address, the username or the user id.
  function renderAccount(p) {
    var primary = $('[data-account="primary"]');
    var secondary = $('[data-account="secondary"]');
    if (!primary || !secondary) return;
    var name = p.name || '';
    var id = !name && !p.email && !p.username;
    primary.textContent = name || p.email || (p.username ? '@' + p.username : p.user_id);
    primary.classList.toggle('mono', id);
    secondary.textContent = name ? (p.email || '') : '';
    secondary.hidden = !secondary.textContent;
  }

  function watchOrgImage(img) {
    if (img.dataset.watched) return;
    img.dataset.watched = '1';
    img.addEventListener('error', function () { img.hidden = true; });
    if (img.complete && img.naturalWidth === 0 && img.getAttribute('src')) img.hidden = true;
  }

  function safeImage(url) {
    return typeof url === 'string' && /^https?:\/\//i.test(url) ? url : '';
  }

  // orgItem builds one organization as the server renders it, with text nodes only.
  function orgItem(o) {
    var name = o.name || o.org_id;
    var li = document.createElement('li');
    li.className = 'org' + (o.active ? ' org-active' : '');
    li.setAttribute('data-org-id', o.org_id);
    var avatar = document.createElement('span');
    avatar.className = 'org-avatar';
    avatar.setAttribute('aria-hidden', 'true');
    var initial = document.createElement('span');
    initial.className = 'org-initial';
    initial.textContent = Array.from(name)[0].toUpperCase();
    avatar.appendChild(initial);
    var src = safeImage(o.image_url);
    if (src) {
      var img = document.createElement('img');
      img.className = 'org-img';
      img.alt = '';
      img.width = img.height = 36;
      img.referrerPolicy = 'no-referrer';
      watchOrgImage(img);
      img.src = src;
      avatar.appendChild(img);
    }
    var main = document.createElement('span');
    main.className = 'org-main';
    var n = document.createElement('span');
    n.className = 'org-name';
    n.textContent = name;
    main.appendChild(n);
    if (o.slug) {
      var slug = document.createElement('span');
      slug.className = 'org-slug';
      slug.textContent = o.slug;
      main.appendChild(slug);
    }
    var badges = document.createElement('span');
    badges.className = 'org-badges';
    if (o.active) {
      var active = badge('ok', 'Active');
      active.title = 'The organization your session is active in';
      badges.appendChild(active);
    }
    var role = badge('muted', o.role_name || o.role || 'No role');
    role.classList.add('org-role');
    role.title = o.role || '';
    badges.appendChild(role);
    li.appendChild(avatar);
    li.appendChild(main);
    li.appendChild(badges);
    return li;
  }

  function renderOrgs(orgs) {
    var list = $('[data-field="organizations"]');
    if (!list || !Array.isArray(orgs)) return;
    list.textContent = '';
    orgs.forEach(function (o) { list.appendChild(orgItem(o)); });
    list.hidden = orgs.length === 0;
    var empty = $('[data-field="organizations_empty"]');
    if (empty) empty.hidden = orgs.length > 0;
    var missing = $('[data-field="active_missing"]');
    var section = $('[data-row="organizations"]');
    if (missing && section) {
      missing.hidden = !section.getAttribute('data-active-org') || orgs.some(function (o) { return o.active; });
    }
  }

  function render(p) {
    var name = p.name || p.username || p.email || p.user_id;
    $('[data-field="name"]').textContent = name;
    $('[data-field="email"]').textContent = p.email || 'No email address';
    $('[data-field="email_verified"]').hidden = !p.email_verified;
    $('[data-field="email_unverified"]').hidden = p.email_verified || !p.email;
    text($('[data-field="username"]'), p.username, '@');
    text($('[data-field="phone"]'), p.phone);
    code($('[data-field="external_id"]'), p.external_id);
    var account = $('[data-field="account"]');
    account.textContent = '';
    account.appendChild(p.banned ? badge('bad', 'Banned') : p.locked ? badge('warn', 'Locked') : badge('ok', 'Active'));
    $('[data-field="public_metadata"]').textContent = JSON.stringify(p.public_metadata || {}, null, 2);
    var source = $('[data-field="sync_source"]');
    source.className = 'source source-' + p.sync_source;
    source.textContent = { webhook: 'Webhook', api: 'Clerk API', backfill: 'Backfill' }[p.sync_source] || p.sync_source;
    $('[data-field="synced_rel"]').setAttribute('datetime', p.synced_at);
    setAvatar(p);
    renderAccount(p);
    renderOrgs(p.organizations);
    refreshTimes();
  }

  // targets returns the elements that show a changed field.
  function targets(field) {
    switch (field) {
      case 'first_name': case 'last_name': return ['[data-field="name"]'];
      case 'email': return ['[data-field="email"]'];
      case 'email_verified': return ['[data-field="email_verified"]', '[data-field="email_unverified"]'];
      case 'image_url': return ['[data-field="avatar"]'];
      case 'banned': case 'locked': return ['[data-row="status"]'];
      case 'unsafe_metadata': return [];
      default: return ['[data-row="' + field + '"]'];
    }
  }

  function highlight(changes) {
    document.querySelectorAll('.changed').forEach(function (el) { el.classList.remove('changed'); });
    // Restart the animation on elements highlighted by the previous sync.
    void document.body.offsetWidth;
    changes.forEach(function (c) {
      targets(c.field).forEach(function (sel) {
        var el = $(sel);
        if (el) el.classList.add('changed');
      });
    });
  }

  function notify(kind, title, detail) {
    var n = $('#notice');
    if (!n) return;
    n.className = 'notice notice-' + kind;
    n.hidden = false;
    n.textContent = '';
    var tpl = document.getElementById('tpl-icon-' + kind);
    if (tpl) n.appendChild(tpl.content.cloneNode(true));
    var body = document.createElement('div');
    body.className = 'notice-body';
    var strong = document.createElement('strong');
    strong.textContent = title;
    body.appendChild(strong);
    if (detail) {
      var span = document.createElement('span');
      span.textContent = ' ' + detail;
      body.appendChild(span);
    }
    n.appendChild(body);
    // Replay the entrance animation.
    n.style.animation = 'none';
    void n.offsetWidth;
    n.style.animation = '';
  }

  function describe(answer) {
    var changes = answer.changes || [];
    if (answer.status === 'created') return ['success', 'Synced.', 'Your profile was read from Clerk for the first time.'];
    if (changes.length === 0) {
      if (answer.status === 'stale') return ['info', 'Already up to date.', 'A newer version had already arrived by webhook.'];
      return ['info', 'Already up to date.', 'Clerk has nothing newer than what is shown.'];
    }
    var names = changes.map(function (c) { return c.label || labels[c.field] || c.field; });
    var n = changes.length === 1 ? '1 field changed: ' : changes.length + ' fields changed: ';
    return ['success', 'Synced from Clerk.', n + names.join(', ') + '.'];
  }

  function sync(form, button) {
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    var label = $('.btn-label', button);
    var original = label.textContent;
    label.textContent = 'Syncing…';
    return fetch('/api/profile/sync', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Accept': 'application/json' }
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (body) {
        return { status: resp.status, body: body };
      });
    }).then(function (res) {
      if (res.status === 200 && res.body.profile) {
        if (!$('[data-field="name"]')) {
          // The page was showing "not synced yet": render it whole.
          window.location.reload();
          return;
        }
        render(res.body.profile);
        highlight(res.body.changes || []);
        var d = describe(res.body);
        notify(d[0], d[1], d[2]);
        return;
      }
      if (res.status === 401) {
        notify('error', 'You are signed out.', 'Sign in again, then press Sync User Data.');
        return;
      }
      notify('error', 'Sync failed.', res.body.error ? res.body.error.charAt(0).toUpperCase() + res.body.error.slice(1) + '.' : 'The server answered ' + res.status + '.');
    }).catch(function () {
      notify('error', 'Sync failed.', 'The server could not be reached. Check your connection and try again.');
    }).then(function () {
      button.disabled = false;
      button.removeAttribute('aria-busy');
      label.textContent = original;
    });
  }

  function init() {
    var form = $('#sync-form');
    var button = $('#sync-button');
    if (form && button && window.fetch) {
      form.addEventListener('submit', function (ev) {
        ev.preventDefault();
        if (!button.disabled) sync(form, button);
      });
    }
    document.querySelectorAll('.avatar-img').forEach(watchAvatar);
    document.querySelectorAll('.org-img').forEach(watchOrgImage);
    document.querySelectorAll('[data-copy]').forEach(function (b) {
      if (!navigator.clipboard) return;
      b.hidden = false;
      b.addEventListener('click', function () {
        navigator.clipboard.writeText(b.getAttribute('data-copy')).then(function () {
          b.classList.add('copied');
          setTimeout(function () { b.classList.remove('copied'); }, 1500);
        });
      });
    });
    refreshTimes();
    setInterval(refreshTimes, 15000);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
