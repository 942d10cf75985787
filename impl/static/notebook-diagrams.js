// Draws a notebook page's Mermaid diagrams, which nbconvert leaves as
// <div class="jp-Mermaid"><pre class="mermaid">source</pre></div>, with the Mermaid build
// this server serves (/docs/mermaid/, fetched at package-build time). The source stays
// readable: shown until its picture replaces it, and for good when Mermaid cannot load or
// a diagram cannot be drawn; once drawn it is folded away under the picture.
(function () {
  'use strict';
  var MERMAID = '/docs/mermaid/mermaid.min.js';
  var sources = Array.prototype.slice.call(document.querySelectorAll('.jp-Mermaid > pre.mermaid'));
  if (!sources.length) return;

  function show(pre, svg) {
    var figure = document.createElement('figure');
    figure.className = 'diagram';
    figure.innerHTML = svg;
    var details = document.createElement('details');
    var summary = document.createElement('summary');
    summary.textContent = 'Diagram source (Mermaid)';
    pre.parentNode.insertBefore(figure, pre);
    pre.parentNode.insertBefore(details, pre);
    details.appendChild(summary);
    details.appendChild(pre);
  }

  function drawAll(mermaid) {
    mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', theme: 'default' });
    // one after another: each drawing measures its text in the live document
    sources.reduce(function (previous, pre, index) {
      return previous.then(function () {
        return mermaid.render('diagram-' + index, pre.textContent.trim()).then(
          function (result) { show(pre, result.svg); },
          function (error) { console.error('diagram ' + (index + 1) + ' was not drawn: ' + error); }
        );
      });
    }, Promise.resolve());
  }

  var script = document.createElement('script');
  script.src = MERMAID;
  script.onload = function () { drawAll(window.mermaid); };
  document.head.appendChild(script);
})();
