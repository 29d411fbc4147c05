// Passkeys (WebAuthn): a form marked data-passkey="create" or "get" runs the browser's passkey
// prompt when submitted, puts the answer (JSON) in its "credential" field and then posts. The
// server built the options (data-options) and checks the answer. Without JavaScript or WebAuthn
// the button stays hidden and the page says why; every other sign-in method works without this.
(function () {
  "use strict";

  function toBytes(value) {
    var base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var binary = window.atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return window.btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    return (list || []).map(function (descriptor) {
      return Object.assign({}, descriptor, { id: toBytes(descriptor.id) });
    });
  }

  function publicKeyOptions(mode, json) {
    var options = JSON.parse(json);
    options.challenge = toBytes(options.challenge);
    if (mode === "create") {
      options.user = Object.assign({}, options.user, { id: toBytes(options.user.id) });
      options.excludeCredentials = withIds(options.excludeCredentials);
    } else {
      options.allowCredentials = withIds(options.allowCredentials);
    }
    return options;
  }

  function answer(credential) {
    var response = credential.response;
    var out = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toBase64url(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      out.response.attestationObject = toBase64url(response.attestationObject);
      if (typeof response.getTransports === "function") {
        out.response.transports = response.getTransports();
      }
    } else {
      out.response.authenticatorData = toBase64url(response.authenticatorData);
      out.response.signature = toBase64url(response.signature);
      if (response.userHandle) {
        out.response.userHandle = toBase64url(response.userHandle);
      }
    }
    return JSON.stringify(out);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var supported = !!(window.PublicKeyCredential && navigator.credentials);
    document.querySelectorAll("form[data-passkey]").forEach(function (form) {
      var mode = form.dataset.passkey;
      var status = form.querySelector("[data-passkey-status]");
      var button = form.querySelector("[data-passkey-button]");
      if (!supported) {
        status.textContent = form.dataset.msgUnsupported;
        return;
      }
      status.textContent = "";
      button.hidden = false;
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        button.disabled = true;
        status.textContent = form.dataset.msgWorking;
        var request = {};
        request.publicKey = publicKeyOptions(mode, form.dataset.options);
        var ceremony = mode === "create"
          ? navigator.credentials.create(request)
          : navigator.credentials.get(request);
        ceremony.then(function (credential) {
          form.querySelector("input[name=credential]").value = answer(credential);
          form.submit();  // no submit event: this handler does not run again
        }).catch(function () {
          status.textContent = form.dataset.msgFailed;
          button.disabled = false;
          button.focus();
        });
      });
    });
  });
})();
