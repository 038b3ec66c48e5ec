// The browser side of passkeys and security keys (WebAuthn). A form marked
// data-passkey="register" or "authenticate" carries the server's options in
// data-passkey-options (JSON); its button asks the browser for a passkey, and
// the answer (credential.toJSON()) is posted in the hidden "credential" field
// with the rest of the form, CSRF token included. Served by pharmid as a file,
// so the Content-Security-Policy stays strict (no inline script). Every other
// way to sign in works without this script.
(function () {
  'use strict';
  var PKC = window.PublicKeyCredential;
  var supported = !!(PKC && navigator.credentials && PKC.parseCreationOptionsFromJSON && PKC.parseRequestOptionsFromJSON);

  document.querySelectorAll('form[data-passkey]').forEach(function (form) {
    var kind = form.getAttribute('data-passkey');
    var button = form.querySelector('[data-passkey-start]');
    var status = form.querySelector('[data-passkey-status]');
    var field = form.querySelector('input[name="credential"]');
    var options;
    try { options = JSON.parse(form.getAttribute('data-passkey-options') || ''); } catch (e) { options = undefined; }
    if (!button || !field || !options) return;
    var say = function (text) { if (status) status.textContent = text; };
    if (!supported) {
      say('This browser cannot use passkeys or security keys. Use another way to sign in, or a recent version of Chrome, Edge, Firefox or Safari.');
      return;
    }
    var waiting; // the browser's passkey autofill, stopped when the button is pressed

    function send(credential) {
      if (!credential) return;
      field.value = JSON.stringify(credential.toJSON());
      form.submit();
    }

    function failed(err) {
      if (err && err.name === 'AbortError') return;
      if (err && err.name === 'InvalidStateError') {
        say('That key is set up already. Use another key, or go back.');
        return;
      }
      say('No passkey was used. Press the button to try again.');
    }

    button.hidden = false;
    say('');
    button.addEventListener('click', function (event) {
      event.preventDefault();
      if (waiting) waiting.abort();
      say('Follow the instructions from your browser or security key.');
      var request = kind === 'register'
        ? navigator.credentials.create({ publicKey: PKC.parseCreationOptionsFromJSON(options) })
        : navigator.credentials.get({ publicKey: PKC.parseRequestOptionsFromJSON(options) });
      request.then(send, failed);
    });

    // The sign-in page: passkeys offered in the email box's suggestions, where the browser can.
    if (form.hasAttribute('data-passkey-autofill') && PKC.isConditionalMediationAvailable) {
      PKC.isConditionalMediationAvailable().then(function (available) {
        if (!available) return;
        waiting = new AbortController();
        // Silent when it ends unanswered: the person may simply type their email and password.
        navigator.credentials.get({ publicKey: PKC.parseRequestOptionsFromJSON(options), mediation: 'conditional', signal: waiting.signal })
          .then(send, function () {});
      }, function () {});
    }
  });
})();
