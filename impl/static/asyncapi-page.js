// Renders the served asyncapi.yaml with the AsyncAPI React component's standalone bundle.
// The document is fetched by absolute URL so that its relative $refs (./openapi.yaml)
// resolve against the server that serves both files.
(function () {
  'use strict';
  var root = document.getElementById('asyncapi');
  var url = new URL(root.getAttribute('data-schema-url'), window.location.href).href;
  window.AsyncApiStandalone.render(
    {
      schema: { url: url, requestOptions: { credentials: 'same-origin' } },
      config: {
        show: { sidebar: true, errors: true, messageExamples: true },
        expand: { messageExamples: false },
      },
    },
    root
  );
})();
