// @ts-check
/**
 * Colleague link confirmation page (templates/colleague.html): the link's
 * fragment carries the call key (E2EE.md) and never reaches the server, so
 * the form's action gets it here; the server's redirect after the POST
 * keeps it on its way into the call.
 */
const form = /** @type {HTMLFormElement | null} */ (document.querySelector('form[data-colleague]'));
if (form && location.hash) {
  form.action = (form.getAttribute('action') || '') + location.hash;
}
