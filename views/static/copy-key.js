// A "Copy key" button beside the authenticator key. The page works without
// this script (the key can be selected and copied by hand): the button stays
// hidden until the script shows it. Served by pharmid as a file, so the
// Content-Security-Policy stays strict (no inline script).
(function () {
  'use strict';
  document.querySelectorAll('button[data-copy-from]').forEach(function (button) {
    var source = document.getElementById(button.getAttribute('data-copy-from'));
    var status = document.getElementById(button.getAttribute('aria-describedby') || '');
    if (!source || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener('click', function () {
      navigator.clipboard.writeText(source.textContent.replace(/\s+/g, '')).then(function () {
        if (status) status.textContent = 'Key copied. Paste it into your authenticator app.';
      }, function () {
        if (status) status.textContent = 'Could not copy. Select the key and copy it by hand.';
      });
    });
  });
})();
