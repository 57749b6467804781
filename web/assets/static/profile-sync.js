/*! clerksync profile-sync.js — sync the signed-in user's profile on visit.
 *
 *   <script src="https://clerksync.example.com/profile-sync.js" data-max-age="15" async></script>
 *
 * On load, if this browser has not synced the signed-in user in the last data-max-age
 * minutes, it asks clerksync once to sync them; clerksync itself asks Clerk only when
 * its row is older than that. It never blocks the page, never writes to it, and only
 * ever reports to console.debug. With Clerk's JavaScript on the page it sends the
 * session token as a bearer token; otherwise the browser's cookies (the origin of the
 * page must then be listed in CLERK_AUTHORIZED_PARTIES when it is not clerksync's own).
 */
(function () {
  'use strict';
  var DEFAULT_MAX_AGE_MINUTES = __CLERKSYNC_DEFAULT_MAX_AGE_MINUTES__;
  var STORAGE_PREFIX = 'clerksync:profile-sync:';
  var CLERK_WAIT_MS = 10000;

  var script = document.currentScript;
  if (!script || !window.fetch || !window.Promise) return;

  function debug() {
    try {
      var args = Array.prototype.slice.call(arguments);
      args.unshift('[clerksync]');
      console.debug.apply(console, args);
    } catch (e) { /* no console */ }
  }

  var src = script.src || '';
  var base = src.replace(/\/profile-sync\.js(?:[?#].*)?$/, '');
  if (!base || base === src) {
    debug('cannot tell where clerksync is from the script URL', src);
    return;
  }
  var maxAge = parseFloat(script.getAttribute('data-max-age'));
  if (!(maxAge >= 0)) maxAge = DEFAULT_MAX_AGE_MINUTES;

  function storage() {
    try {
      var s = window.localStorage;
      var probe = STORAGE_PREFIX + 'probe';
      s.setItem(probe, '1');
      s.removeItem(probe);
      return s;
    } catch (e) {
      return null;
    }
  }

  // subject reads the user id out of a session token; it does not verify it (the
  // server does), it only keys the "synced recently" record.
  function subject(token) {
    try {
      var part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      return JSON.parse(atob(part + '==='.slice((part.length + 3) % 4))).sub || '';
    } catch (e) {
      return '';
    }
  }

  function cookieToken() {
    var m = document.cookie.match(/(?:^|;\s*)__session=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : '';
  }

  // clerk waits (a little) for Clerk's JavaScript, when the page has it, to load.
  function clerk() {
    return new Promise(function (resolve) {
      var waited = 0;
      (function poll() {
        var c = window.Clerk;
        if (!c) return resolve(null);
        if (c.loaded || c.session !== undefined) return resolve(c);
        if (waited >= CLERK_WAIT_MS) return resolve(null);
        waited += 250;
        setTimeout(poll, 250);
      })();
    });
  }

  function run() {
    return clerk().then(function (c) {
      if (c && !c.session) {
        debug('not signed in; nothing to sync');
        return null;
      }
      var tokenPromise = c && c.session && typeof c.session.getToken === 'function'
        ? Promise.resolve(c.session.getToken()).catch(function () { return null; })
        : Promise.resolve(null);
      return tokenPromise.then(function (token) {
        var user = (c && c.user && c.user.id) || subject(token || '') || subject(cookieToken()) || 'anonymous';
        var store = storage();
        var key = STORAGE_PREFIX + user;
        var now = Date.now();
        if (store) {
          var last = parseInt(store.getItem(key), 10);
          if (last && now - last >= 0 && now - last < maxAge * 60000) {
            debug('synced ' + Math.round((now - last) / 1000) + ' s ago; next sync after ' + maxAge + ' min');
            return null;
          }
          // Recorded before the call: a failing call must not be retried on every page.
          store.setItem(key, String(now));
        }
        var headers = { 'Accept': 'application/json' };
        if (token) headers.Authorization = 'Bearer ' + token;
        return fetch(base + '/api/profile/sync?max_age=' + Math.round(maxAge * 60), {
          method: 'POST',
          mode: 'cors',
          credentials: 'include',
          headers: headers
        }).then(function (resp) {
          if (resp.status === 401 && store) {
            // Not signed in (as far as clerksync can tell): try again on the next page.
            store.removeItem(key);
          }
          return resp.json().catch(function () { return {}; }).then(function (body) {
            debug('profile sync:', resp.status, body.status || body.error || '');
            return body;
          });
        });
      });
    }).catch(function (err) {
      debug('profile sync failed:', err && err.message ? err.message : err);
    });
  }

  function later(fn) {
    if (window.requestIdleCallback) {
      window.requestIdleCallback(fn, { timeout: 3000 });
    } else {
      setTimeout(fn, 1);
    }
  }

  if (document.readyState === 'complete') {
    later(run);
  } else {
    window.addEventListener('load', function () { later(run); });
  }
})();
