// @ts-check
/**
 * The back office's own strings, German (default) and English, beside the
 * shared dictionary in i18n.js (which the header and the common error texts
 * still use). The language is i18n.js's: getLang(), and every switch there
 * re-applies these too. Static HTML marks these strings with
 * data-bo-i18n="key" (text), data-bo-i18n-placeholder,
 * data-bo-i18n-aria-label and data-bo-i18n-title.
 * @module
 */

import { getLang, onLangChange, pageTitle } from './i18n.js';

const de = {
  'bo.pageTitle': 'Backoffice – Parley',
  'bo.brand': 'Backoffice',
  'bo.toConsole': 'Beratungen',

  'bo.search.title': 'Verträge',
  'bo.search.q': 'Kunde, Unterzeichner oder Dokument',
  'bo.search.qPlaceholder': 'z. B. Mustermann',
  'bo.search.advisor': 'Beraterin/Berater',
  'bo.search.from': 'Von',
  'bo.search.to': 'Bis',
  'bo.search.state': 'Status',
  'bo.search.stateAll': 'Alle',
  'bo.search.stateSigned': 'Unterschrieben',
  'bo.search.stateOpen': 'Offen',
  'bo.search.stateWithdrawn': 'Zurückgezogen',
  'bo.search.submit': 'Suchen',
  'bo.search.reset': 'Zurücksetzen',
  'bo.search.count': '{n} Verträge',
  'bo.search.countOne': '1 Vertrag',
  'bo.search.limit': 'Es werden höchstens 200 Verträge angezeigt. Bitte grenzen Sie die Suche ein.',
  'bo.search.empty': 'Keine Verträge gefunden.',
  'bo.search.failed': 'Die Verträge konnten nicht geladen werden.',
  'bo.search.badRange': 'Das Datum „Von“ liegt nach dem Datum „Bis“.',

  'bo.col.name': 'Dokument',
  'bo.col.consultation': 'Beratung',
  'bo.col.advisor': 'Beraterin/Berater',
  'bo.col.signers': 'Unterzeichnende',
  'bo.col.state': 'Status',
  'bo.col.created': 'Vorgelegt',

  'bo.state.signed': 'Unterschrieben',
  'bo.state.open': 'Offen',
  'bo.state.partial': 'Teilweise unterschrieben',
  'bo.state.withdrawn': 'Zurückgezogen',
  'bo.field.customer': 'Kundin/Kunde',
  'bo.field.advisor': 'Beraterin/Berater',
  'bo.field.pending': 'noch nicht unterschrieben',
  'bo.field.signedAt': 'unterschrieben {time}',
  'bo.untitled': 'ohne Titel',
  'bo.open': 'Öffnen',
  'bo.openLabel': 'Vertrag „{name}“ öffnen',

  'bo.detail.back': 'Zurück zur Liste',
  'bo.detail.loading': 'Vertrag wird geprüft …',
  'bo.detail.failed': 'Der Vertrag konnte nicht geladen werden.',
  'bo.detail.download': 'PDF herunterladen',
  'bo.detail.exportAudit': 'Prüfprotokoll exportieren (JSON)',
  'bo.detail.consultation': 'Beratung',
  'bo.detail.advisor': 'Beraterin/Berater',
  'bo.detail.created': 'Vorgelegt',
  'bo.detail.signedAt': 'Vollständig unterschrieben',
  'bo.detail.restrictedAt': 'Gesperrt auf Löschwunsch (nur gesetzliche Aufbewahrung)',
  'bo.detail.pages': 'Seiten',
  'bo.detail.presentedHash': 'SHA-256 wie vorgelegt',
  'bo.detail.currentHash': 'SHA-256 aktuelle Fassung',
  'bo.detail.revision': 'Fassung',
  'bo.detail.verification': 'Prüfung der Signaturen',
  'bo.detail.auditTitle': 'Prüfprotokoll',

  'bo.verdict.valid': 'Gültig',
  'bo.verdict.valid_with_warnings': 'Gültig mit Hinweisen',
  'bo.verdict.invalid': 'Ungültig',
  'bo.verdict.validText': 'Alle Signaturen sind gültig und das Dokument wurde nach der Unterschrift nicht verändert.',
  'bo.verdict.valid_with_warningsText': 'Die Signaturen sind gültig und das Dokument ist unverändert. Beachten Sie die Hinweise.',
  'bo.verdict.invalidText': 'Diesem Dokument darf nicht vertraut werden. Die Gründe:',
  'bo.verdict.file': 'Geprüfte Datei: {size} · SHA-256',
  'bo.verdict.reasons': 'Gründe und Hinweise',
  'bo.verdict.error': 'Fehler',
  'bo.verdict.warning': 'Hinweis',
  'bo.verdict.noSignatures': 'Keine Signaturen gefunden.',

  'bo.sig.title': 'Signatur „{field}“',
  'bo.sig.signer': 'Unterzeichnet von',
  'bo.sig.time': 'Signaturzeit (laut Server)',
  'bo.sig.timeStamp': 'Zeitstempel',
  'bo.sig.noTimeStamp': 'keiner',
  'bo.sig.certificate': 'Zertifikat',
  'bo.sig.trusted': 'Vertrauenswürdiger Aussteller',
  'bo.sig.intact': 'Signierte Daten unverändert',
  'bo.sig.covers': 'Deckt die ganze Datei ab',
  'bo.sig.coversNo': 'nein – danach wurde etwas angehängt',
  'bo.sig.coversLater': 'später wurde eine weitere Signatur hinzugefügt (zulässig)',
  'bo.sig.development': 'Entwicklungszertifikat – nicht für den Betrieb',
  'bo.sig.level': 'Signaturniveau',
  'bo.sig.envelope': 'Biometrische Daten',
  'bo.yes': 'ja',
  'bo.no': 'nein',
  'bo.envelope.bound': 'vorhanden, verschlüsselt und an dieses Dokument gebunden',
  'bo.envelope.not_bound': 'gehören nicht zu diesem Dokument',
  'bo.envelope.missing': 'fehlen',
  'bo.envelope.foreign_key': 'für einen anderen Treuhänder-Schlüssel verschlüsselt',
  'bo.envelope.unchecked': 'nicht geprüft',
  'bo.envelope.not_sealed': 'nicht vom Parley-Siegel bestätigt (kopiert oder umbenannt)',
  'bo.envelope.none': 'keine: außerhalb von Parley signiert',
  'bo.envelope.typed': 'keine, da ohne Zeichnen unterschrieben (Name getippt und bestätigt, barrierefreie Alternative)',
  'bo.sig.method': 'Art der Unterschrift',
  'bo.method.drawn': 'von Hand gezeichnet',
  'bo.method.typed': 'ohne Zeichnen: Name getippt und bestätigt (barrierefreie Alternative)',
  'bo.sig.origin': 'Herkunft',
  'bo.origin.parley': 'Parley-Siegel',
  'bo.origin.third_party': 'außerhalb von Parley signiert (Drittanbieter)',
  'bo.origin.unknown': 'unbekannt',

  'bo.audit.time': 'Zeit',
  'bo.audit.kind': 'Ereignis',
  'bo.audit.actor': 'Durch',
  'bo.audit.detail': 'Einzelheiten',
  'bo.audit.empty': 'Keine Einträge.',
  'bo.audit.chainValid': 'Kette intakt: kein Eintrag wurde gelöscht oder verändert.',
  'bo.audit.chainBroken': 'Kette unterbrochen: Einträge wurden gelöscht oder verändert.',
  'bo.audit.chainProblem': 'Befund: {problem}',
  'bo.kind.presented': 'Zur Unterschrift vorgelegt',
  'bo.kind.viewed': 'Bis zur letzten Seite angesehen',
  'bo.kind.field_bound': 'Unterschriftsfeld einer Kundin/einem Kunden zugeordnet',
  'bo.kind.signed': 'Unterschrieben',
  'bo.kind.withdrawn': 'Von der Beratung zurückgezogen',
  'bo.kind.downloaded': 'Heruntergeladen',
  'bo.kind.emailed': 'Kopie per E-Mail angefordert und zum Versand gegeben',
  'bo.kind.verified': 'Geprüft',
  'bo.actor.staff': 'Mitarbeitende, Nr. {id}',
  'bo.actor.participant': 'Kundin/Kunde, {id}',
  'bo.actor.system': 'System',
  'bo.key.name': 'Datei',
  'bo.key.pages': 'Seiten',
  'bo.key.size': 'Größe',
  'bo.key.sha256': 'SHA-256',
  'bo.key.fields': 'Felder',
  'bo.key.placement': 'Platz der Felder',
  'bo.placementAt': 'Seite {page}, unten links {x}, {y} pt, {w} × {h} pt',
  'bo.key.field': 'Feld',
  'bo.key.signer': 'Unterzeichner',
  'bo.key.revision': 'Fassung',
  'bo.key.signed_sha256': 'SHA-256 danach',
  'bo.key.signed_over_sha256': 'SHA-256 davor',
  'bo.key.envelope_sha256': 'SHA-256 Biometrie',
  'bo.key.envelope_recipient': 'Treuhänder-Schlüssel',
  'bo.key.strokes': 'Striche',
  'bo.key.points': 'Punkte',
  'bo.key.duration_ms': 'Dauer (ms)',
  'bo.key.method': 'Art der Unterschrift',
  'bo.key.typed_name': 'Getippter Name',
  'bo.key.confirmed': 'Bestätigt',
  'bo.key.verdict': 'Ergebnis',
  'bo.key.by': 'über',
  'bo.key.consultation': 'Beratung',

  'bo.verify.title': 'Beliebige PDF prüfen',
  'bo.verify.intro': 'Zum Beispiel ein Vertrag, der per E-Mail zurückkam. Die Datei wird nur geprüft, nicht gespeichert.',
  'bo.verify.choose': 'PDF-Datei auswählen',
  'bo.verify.busy': '„{name}“ wird geprüft …',
  'bo.verify.result': 'Ergebnis für „{name}“',
  'bo.verify.notPdf': 'Bitte wählen Sie eine PDF-Datei.',

  'bo.error.unverifiable': 'Die Datei konnte nicht geprüft werden. Ist sie wirklich eine PDF-Datei?',
  'bo.error.too_large': 'Die Datei ist zu groß für diesen Server.',
  'bo.error.not_found': 'Diesen Vertrag gibt es nicht, oder Sie dürfen ihn nicht sehen.',
  'bo.error.bad_request': 'Die Suche ist ungültig. Bitte prüfen Sie die Datumsangaben.',
};

/** @typedef {keyof typeof de} BoKey */

/** @type {Record<BoKey, string>} */
const en = {
  'bo.pageTitle': 'Back office – Parley',
  'bo.brand': 'Back office',
  'bo.toConsole': 'Consultations',

  'bo.search.title': 'Contracts',
  'bo.search.q': 'Customer, signer or document',
  'bo.search.qPlaceholder': 'e.g. Smith',
  'bo.search.advisor': 'Advisor',
  'bo.search.from': 'From',
  'bo.search.to': 'To',
  'bo.search.state': 'State',
  'bo.search.stateAll': 'All',
  'bo.search.stateSigned': 'Signed',
  'bo.search.stateOpen': 'Open',
  'bo.search.stateWithdrawn': 'Withdrawn',
  'bo.search.submit': 'Search',
  'bo.search.reset': 'Reset',
  'bo.search.count': '{n} contracts',
  'bo.search.countOne': '1 contract',
  'bo.search.limit': 'At most 200 contracts are shown. Please narrow the search.',
  'bo.search.empty': 'No contracts found.',
  'bo.search.failed': 'Could not load the contracts.',
  'bo.search.badRange': 'The “From” date is after the “To” date.',

  'bo.col.name': 'Document',
  'bo.col.consultation': 'Consultation',
  'bo.col.advisor': 'Advisor',
  'bo.col.signers': 'Signers',
  'bo.col.state': 'State',
  'bo.col.created': 'Presented',

  'bo.state.signed': 'Signed',
  'bo.state.open': 'Open',
  'bo.state.partial': 'Partly signed',
  'bo.state.withdrawn': 'Withdrawn',
  'bo.field.customer': 'Customer',
  'bo.field.advisor': 'Advisor',
  'bo.field.pending': 'not signed yet',
  'bo.field.signedAt': 'signed {time}',
  'bo.untitled': 'untitled',
  'bo.open': 'Open',
  'bo.openLabel': 'Open contract “{name}”',

  'bo.detail.back': 'Back to the list',
  'bo.detail.loading': 'Checking the contract …',
  'bo.detail.failed': 'Could not load the contract.',
  'bo.detail.download': 'Download PDF',
  'bo.detail.exportAudit': 'Export audit trail (JSON)',
  'bo.detail.consultation': 'Consultation',
  'bo.detail.advisor': 'Advisor',
  'bo.detail.created': 'Presented',
  'bo.detail.signedAt': 'Fully signed',
  'bo.detail.restrictedAt': 'Restricted on an erasure request (legal retention only)',
  'bo.detail.pages': 'Pages',
  'bo.detail.presentedHash': 'SHA-256 as presented',
  'bo.detail.currentHash': 'SHA-256 current revision',
  'bo.detail.revision': 'Revision',
  'bo.detail.verification': 'Signature verification',
  'bo.detail.auditTitle': 'Audit trail',

  'bo.verdict.valid': 'Valid',
  'bo.verdict.valid_with_warnings': 'Valid with warnings',
  'bo.verdict.invalid': 'Invalid',
  'bo.verdict.validText': 'Every signature is valid and the document was not changed after signing.',
  'bo.verdict.valid_with_warningsText': 'The signatures are valid and the document is unchanged. Please note the warnings.',
  'bo.verdict.invalidText': 'Do not trust this document. The reasons:',
  'bo.verdict.file': 'File checked: {size} · SHA-256',
  'bo.verdict.reasons': 'Reasons and warnings',
  'bo.verdict.error': 'Error',
  'bo.verdict.warning': 'Warning',
  'bo.verdict.noSignatures': 'No signatures found.',

  'bo.sig.title': 'Signature “{field}”',
  'bo.sig.signer': 'Signed by',
  'bo.sig.time': 'Signing time (claimed by the server)',
  'bo.sig.timeStamp': 'Time-stamp',
  'bo.sig.noTimeStamp': 'none',
  'bo.sig.certificate': 'Certificate',
  'bo.sig.trusted': 'Trusted issuer',
  'bo.sig.intact': 'Signed data unchanged',
  'bo.sig.covers': 'Covers the whole file',
  'bo.sig.coversNo': 'no – something was appended afterwards',
  'bo.sig.coversLater': 'a later signature was added (allowed)',
  'bo.sig.development': 'Development certificate – not for production',
  'bo.sig.level': 'Signature level',
  'bo.sig.envelope': 'Biometric data',
  'bo.yes': 'yes',
  'bo.no': 'no',
  'bo.envelope.bound': 'present, encrypted and bound to this document',
  'bo.envelope.not_bound': 'belongs to another document',
  'bo.envelope.missing': 'missing',
  'bo.envelope.foreign_key': 'sealed to another escrow key',
  'bo.envelope.unchecked': 'not checked',
  'bo.envelope.not_sealed': 'not vouched for by Parley\'s seal (copied or re-labelled)',
  'bo.envelope.none': 'none: signed outside Parley',
  'bo.envelope.typed': 'none, signed without drawing (name typed and confirmed, the accessible alternative)',
  'bo.sig.method': 'Way of signing',
  'bo.method.drawn': 'drawn by hand',
  'bo.method.typed': 'without drawing: name typed and confirmed (the accessible alternative)',
  'bo.sig.origin': 'Origin',
  'bo.origin.parley': 'Parley seal',
  'bo.origin.third_party': 'signed outside Parley (third party)',
  'bo.origin.unknown': 'unknown',

  'bo.audit.time': 'Time',
  'bo.audit.kind': 'Event',
  'bo.audit.actor': 'By',
  'bo.audit.detail': 'Details',
  'bo.audit.empty': 'No entries.',
  'bo.audit.chainValid': 'Chain intact: no entry was deleted or altered.',
  'bo.audit.chainBroken': 'Chain broken: entries were deleted or altered.',
  'bo.audit.chainProblem': 'Finding: {problem}',
  'bo.kind.presented': 'Presented for signature',
  'bo.kind.viewed': 'Viewed to the last page',
  'bo.kind.field_bound': 'Signature field assigned to one customer',
  'bo.kind.signed': 'Signed',
  'bo.kind.withdrawn': 'Withdrawn by the advisor',
  'bo.kind.downloaded': 'Downloaded',
  'bo.kind.emailed': 'Copy by e-mail requested and queued for sending',
  'bo.kind.verified': 'Verified',
  'bo.actor.staff': 'Staff, no. {id}',
  'bo.actor.participant': 'Customer, {id}',
  'bo.actor.system': 'System',
  'bo.key.name': 'File',
  'bo.key.pages': 'Pages',
  'bo.key.size': 'Size',
  'bo.key.sha256': 'SHA-256',
  'bo.key.fields': 'Fields',
  'bo.key.placement': 'Field placement',
  'bo.placementAt': 'page {page}, lower left {x}, {y} pt, {w} × {h} pt',
  'bo.key.field': 'Field',
  'bo.key.signer': 'Signer',
  'bo.key.revision': 'Revision',
  'bo.key.signed_sha256': 'SHA-256 after',
  'bo.key.signed_over_sha256': 'SHA-256 before',
  'bo.key.envelope_sha256': 'SHA-256 biometrics',
  'bo.key.envelope_recipient': 'Escrow key',
  'bo.key.strokes': 'Strokes',
  'bo.key.points': 'Points',
  'bo.key.duration_ms': 'Duration (ms)',
  'bo.key.method': 'Way of signing',
  'bo.key.typed_name': 'Typed name',
  'bo.key.confirmed': 'Confirmed',
  'bo.key.verdict': 'Result',
  'bo.key.by': 'via',
  'bo.key.consultation': 'Consultation',

  'bo.verify.title': 'Verify any PDF',
  'bo.verify.intro': 'For example a contract that came back by e-mail. The file is only checked, not stored.',
  'bo.verify.choose': 'Choose a PDF file',
  'bo.verify.busy': 'Checking “{name}” …',
  'bo.verify.result': 'Result for “{name}”',
  'bo.verify.notPdf': 'Please choose a PDF file.',

  'bo.error.unverifiable': 'The file could not be checked. Is it really a PDF file?',
  'bo.error.too_large': 'The file is too large for this server.',
  'bo.error.not_found': 'This contract does not exist, or you may not see it.',
  'bo.error.bad_request': 'The search is invalid. Please check the dates.',
};

/** @type {Record<'de'|'en', Record<BoKey, string>>} */
const DICTS = { de, en };

/**
 * @param {string} s
 * @param {Record<string, string|number>} [params]
 * @returns {string}
 */
function fill(s, params) {
  if (!params) return s;
  return s.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

/**
 * Translates a back-office key into the current language.
 * @param {BoKey} key
 * @param {Record<string, string|number>} [params] values for {placeholders}
 * @returns {string}
 */
export function bt(key, params) {
  return fill(DICTS[getLang()][key] ?? de[key] ?? key, params);
}

/**
 * Translates a key built at run time; null when unknown.
 * @param {string} key
 * @param {Record<string, string|number>} [params]
 * @returns {string|null}
 */
export function btry(key, params) {
  if (!Object.prototype.hasOwnProperty.call(de, key)) return null;
  return bt(/** @type {BoKey} */ (key), params);
}

/**
 * Fills data-bo-i18n* attributes under root, and the page title.
 * @param {ParentNode} [root]
 */
export function applyBoTranslations(root = document) {
  for (const el of root.querySelectorAll('[data-bo-i18n]')) {
    const s = btry(el.getAttribute('data-bo-i18n') ?? '');
    if (s !== null) el.textContent = s;
  }
  /** @type {[string, string][]} */
  const attrs = [
    ['data-bo-i18n-placeholder', 'placeholder'],
    ['data-bo-i18n-aria-label', 'aria-label'],
    ['data-bo-i18n-title', 'title'],
  ];
  for (const [data, attr] of attrs) {
    for (const el of root.querySelectorAll(`[${data}]`)) {
      const s = btry(el.getAttribute(data) ?? '');
      if (s !== null) el.setAttribute(attr, s);
    }
  }
  document.title = pageTitle(bt('bo.pageTitle'));
}

/** Applies the back-office strings now and after every language switch. */
export function initBoI18n() {
  applyBoTranslations();
  onLangChange(() => applyBoTranslations());
}
