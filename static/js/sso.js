// Single sign-on: the page that sends the browser on to the identity provider follows its
// "Continue" link at once (a link, so the CSP's form-action rule does not apply). Without
// JavaScript the link is there to click.
(function () {
  "use strict";
  var link = document.querySelector("a[data-sso-continue]");
  if (link) {
    window.location.replace(link.href);
  }
})();
