// Swagger UI 5 over this server's openapi.json. With dev endpoints on, the page also holds
// a panel (#dev-users) listing the users of the default sandbox, each with a fresh token
// (GET /api/dev/users); picking one, or creating one (POST /api/dev/users), authorizes
// Swagger UI with that token, so "Try it out" works without copying one from a terminal.
(function () {
  'use strict';
  var root = document.getElementById('swagger-ui');
  var ui = window.SwaggerUIBundle({
    url: root.getAttribute('data-spec-url'),
    dom_id: '#swagger-ui',
    deepLinking: true,
    // the default sends the spec to validator.swagger.io for a badge
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
  window.ui = ui;

  var panel = document.getElementById('dev-users');
  if (!panel) return;
  var scheme = panel.getAttribute('data-scheme');
  var list = document.getElementById('dev-user-list');
  var status = document.getElementById('dev-user-status');
  var form = document.getElementById('dev-new-user');

  function say(text) {
    status.textContent = text;
  }

  // A failed call's problem document says why; anything else is named by its status.
  function failure(response) {
    return response.json().then(
      function (problem) { return problem.detail || problem.title || String(response.status); },
      function () { return String(response.status); }
    );
  }

  function call(method, body) {
    var options = { method: method, headers: { Accept: 'application/json' } };
    if (body) {
      options.headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(body);
    }
    return fetch('/api/dev/users', options).then(function (response) {
      if (response.ok) return response.json().then(function (answer) { return answer.data; });
      return failure(response).then(function (why) { throw new Error(why); });
    });
  }

  function use(entry, button) {
    ui.preauthorizeApiKey(scheme, entry.token);
    list.querySelectorAll('button').forEach(function (other) {
      other.setAttribute('aria-pressed', String(other === button));
    });
    say('Authorized as ' + entry.user.name + ' (' + entry.user.role + '): "Try it out" sends this token.');
  }

  function add(entry) {
    var item = document.createElement('li');
    var button = document.createElement('button');
    button.type = 'button';
    button.setAttribute('aria-pressed', 'false');
    button.setAttribute('data-user-id', entry.user._id);
    button.textContent = entry.user.name + ' (' + entry.user.role + ')';
    if (entry.user.status !== 'active') {
      button.disabled = true;
      button.textContent += ', ' + entry.user.status;
    }
    button.addEventListener('click', function () { use(entry, button); });
    item.appendChild(button);
    list.appendChild(item);
    return button;
  }

  function show(users) {
    list.textContent = '';
    list.removeAttribute('aria-busy');
    users.forEach(add);
    if (!users.length) say('No users yet: create one.');
  }

  call('GET').then(
    function (data) { show(data.users); },
    function (error) { list.removeAttribute('aria-busy'); say('The users could not be listed: ' + error.message); }
  );

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var body = { name: form.elements.name.value, role: form.elements.role.value };
    call('POST', body).then(
      function (entry) { use(entry, add(entry)); form.reset(); },
      function (error) { say('No user was created: ' + error.message); }
    );
  });
})();
