// @ts-check
/**
 * Translations: German (default) and English. Every visible string goes
 * through t(). The choice is remembered in localStorage "parley.lang" and
 * reflected in <html lang>. Static HTML marks its strings with
 * data-i18n="key" (text), data-i18n-placeholder, data-i18n-aria-label,
 * data-i18n-title; applyTranslations() fills them.
 * @module
 */

const de = {
  'brand.tagline': 'Videoberatung',
  'lang.toggle': 'English',
  'lang.toggleLabel': 'Switch to English',
  'lang.short': 'EN',
  'common.loading': 'Wird geladen …',
  'common.retry': 'Erneut versuchen',
  'common.copy': 'Kopieren',
  'common.copied': 'Link kopiert.',
  'common.copyFailed': 'Kopieren war nicht möglich. Bitte markieren Sie den Link und kopieren Sie ihn manuell.',
  'common.cancel': 'Abbrechen',
  'common.close': 'Schließen',
  'common.backToConsole': 'Zurück zur Übersicht',
  'common.guest': 'Gast',
  'common.you': 'Sie',
  'common.validUntil': 'Gültig bis {time}',
  'common.opensNewTab': '(öffnet in neuem Tab)',
  'common.skipToContent': 'Zum Inhalt springen',

  'error.bad_request': 'Die Anfrage war ungültig.',
  'error.unauthorized': 'Bitte melden Sie sich an.',
  'error.forbidden': 'Dafür fehlt Ihnen die Berechtigung.',
  'error.not_found': 'Nicht gefunden.',
  'error.expired': 'Der Link ist abgelaufen.',
  'error.ended': 'Die Beratung ist bereits beendet.',
  'error.conflict': 'Das ist gerade nicht möglich.',
  'error.rate_limited': 'Zu viele Anfragen. Bitte warten Sie einen Moment.',
  'error.csrf': 'Die Sicherheitsprüfung ist fehlgeschlagen. Bitte laden Sie die Seite neu.',
  'error.internal': 'Auf dem Server ist ein Fehler aufgetreten. Bitte versuchen Sie es erneut.',
  'error.network': 'Keine Verbindung zum Server. Bitte prüfen Sie Ihre Internetverbindung.',
  'error.unknown': 'Ein unerwarteter Fehler ist aufgetreten.',
  'error.screen_unsupported': 'Bildschirmfreigabe wird auf diesem Gerät nicht unterstützt.',
  'error.screen_failed': 'Die Bildschirmfreigabe konnte nicht gestartet werden.',
  'error.device_denied': 'Zugriff auf das Gerät nicht erlaubt.',
  'error.device_notfound': 'Das Gerät wurde nicht gefunden.',
  'error.device_inuse': 'Das Gerät wird gerade von einer anderen Anwendung verwendet.',
  'error.device_insecure': 'Geräte sind nur über eine sichere Verbindung (HTTPS) verfügbar.',
  'error.device_unknown': 'Das Gerät konnte nicht gestartet werden.',
  'error.device_switch': 'Das Gerät konnte nicht gewechselt werden.',

  'ws.error.bad_message': 'Eine Nachricht wurde vom Server nicht verstanden.',
  'ws.error.unknown_type': 'Diese Funktion wird vom Server nicht unterstützt.',
  'ws.error.too_large': 'Eine Nachricht war zu groß.',
  'ws.error.forbidden': 'Das dürfen Sie in dieser Rolle nicht.',
  'ws.error.bad_state': 'Das ist gerade nicht möglich.',
  'ws.error.not_found': 'Diese Person wartet nicht mehr.',
  'ws.error.room_full': 'Die Beratung ist voll. Es kann niemand mehr eingelassen werden.',
  'ws.error.media_failed': 'Die Audio- und Videoverbindung konnte nicht aufgebaut werden.',
  'ws.error.rate_limited': 'Zu viele Aktionen in kurzer Zeit. Bitte etwas langsamer.',
  'ws.error.timeout': 'Der Server antwortet nicht.',
  'ws.error.closed': 'Die Verbindung ist geschlossen.',

  'close.normal': 'Die Verbindung wurde beendet.',
  'close.replaced': 'Sie haben die Beratung in einem anderen Fenster oder auf einem anderen Gerät geöffnet. Diese Verbindung wurde deshalb getrennt.',
  'close.rejected': 'Ihre Teilnahme wurde abgelehnt.',
  'close.ended': 'Die Beratung wurde beendet.',
  'close.too_slow': 'Ihre Internetverbindung war zu langsam. Die Verbindung wurde getrennt.',
  'close.policy': 'Der Server hat die Verbindung wegen eines Protokollfehlers getrennt.',
  'close.too_large': 'Der Server hat die Verbindung getrennt, weil eine Nachricht zu groß war.',
  'close.connect_failed': 'Die Verbindung zur Beratung konnte nicht hergestellt werden.',
  'close.lost': 'Die Verbindung zur Beratung wurde unterbrochen.',
  'close.failed': 'Die Verbindung zur Beratung konnte nicht wiederhergestellt werden. Bitte laden Sie die Seite neu.',
  'close.unauthorized': 'Ihre Anmeldung ist abgelaufen. Bitte melden Sie sich erneut an.',
  'close.gone': 'Diese Beratung ist für Sie nicht mehr verfügbar.',
  'close.e2ee_unsupported': 'Dieser Browser kann keine Ende-zu-Ende-verschlüsselten Anrufe führen. Bitte öffnen Sie den Link in einem aktuellen Chrome, Edge, Firefox oder Safari.',
  'call.e2eeUnsupportedTitle': 'Dieser Browser wird nicht unterstützt',
  'e2ee.badge': 'Ende-zu-Ende verschlüsselt',
  'e2ee.badgeOff': 'Nicht Ende-zu-Ende verschlüsselt',
  'e2ee.badgeTitle': 'Bild, Ton und Bildschirmfreigabe werden in Ihrem Browser verschlüsselt; der Server kann sie nicht entschlüsseln.',
  'e2ee.safetyCode': 'Sicherheitscode {code} – vergleichen Sie ihn mit Ihrem Gegenüber',
  'e2ee.error': 'Entschlüsselung fehlgeschlagen – der Link ist unvollständig oder falsch',
  'e2ee.notEncrypted': 'Achtung: Dieser Anruf ist nicht Ende-zu-Ende verschlüsselt.',
  'e2ee.missingKey.title': 'Der Schlüssel für diesen Anruf fehlt',
  'e2ee.missingKey.text': 'Dieser Anruf ist Ende-zu-Ende verschlüsselt, und sein Schlüssel ist in diesem Browser nicht gespeichert. Bitten Sie die Person, die die Beratung angelegt hat, um den Kollegen-Link (er enthält den Schlüssel) und öffnen Sie ihn vollständig in diesem Browser.',
  'e2ee.incompleteLink.title': 'Der Link ist unvollständig',
  'e2ee.incompleteLink.text': 'Dem Link fehlt der Schlüssel für die verschlüsselte Verbindung (der Teil nach dem #). Bitte öffnen Sie den vollständigen Link aus Ihrer Einladung oder bitten Sie Ihre Beraterin oder Ihren Berater um einen neuen.',
  'e2ee.inviteNoKey': 'Der Schlüssel dieser Beratung ist in diesem Browser nicht gespeichert; der neue Link kann ihn nicht enthalten.',

  'device.camera': 'Kamera',
  'device.microphone': 'Mikrofon',
  'device.cameraN': 'Kamera {n}',
  'device.microphoneN': 'Mikrofon {n}',
  'device.level': 'Mikrofonpegel',
  'device.preview': 'Ihre Kameravorschau',
  'device.cameraIsOff': 'Kamera ist aus',
  'device.micIsOff': 'Mikrofon ist aus',
  'device.noCamera': 'Keine Kamera verfügbar',
  'device.error.camera': 'Kamera: {reason}',
  'device.error.microphone': 'Mikrofon: {reason}',
  'device.error.both': 'Kamera und Mikrofon: {reason}',
  'device.error.denied': 'Zugriff nicht erlaubt. Sie können ihn in den Einstellungen Ihres Browsers freigeben.',
  'device.error.notfound': 'kein Gerät gefunden.',
  'device.error.inuse': 'das Gerät wird gerade von einer anderen Anwendung verwendet.',
  'device.error.insecure': 'nur über eine sichere Verbindung (HTTPS) verfügbar.',
  'device.error.unknown': 'das Gerät konnte nicht gestartet werden.',
  'device.switchFailed': 'Das Gerät konnte nicht gewechselt werden.',

  'call.mic': 'Mikrofon',
  'call.camera': 'Kamera',
  'call.screen': 'Bildschirm',
  'call.screenLabel': 'Bildschirm teilen',
  'call.devices': 'Geräte',
  'call.devicesTitle': 'Geräte wählen',
  'call.leave': 'Verlassen',
  'call.end': 'Beenden',
  'call.endLabel': 'Beratung für alle beenden',
  'call.controls': 'Gesprächssteuerung',
  'call.enableAudio': 'Ton einschalten',
  'call.audioBlocked': 'Ihr Browser hat die Tonwiedergabe blockiert.',
  'call.status.connecting': 'Verbindung wird hergestellt …',
  'call.status.connected': 'Verbunden',
  'call.status.unstable': 'Verbindung instabil – wird wiederhergestellt …',
  'call.status.reconnecting': 'Verbindung unterbrochen',
  'call.status.alone': 'Warten auf weitere Teilnehmende …',
  'call.status.mediaFailed': 'Die Audio- und Videoverbindung ist unterbrochen.',
  'call.badge.reconnecting': 'verbindet neu …',
  'call.badge.muted': 'Mikrofon aus',
  'call.state.waiting': 'wartet',
  'call.state.joined': 'im Gespräch',
  'call.state.reconnecting': 'verbindet neu …',
  'call.state.left': 'hat verlassen',
  'call.state.rejected': 'abgelehnt',
  'call.role.advisor': 'Beratung',
  'call.role.customer': 'Kunde/Kundin',
  'call.youSuffix': '{name} (Sie)',
  'call.participants': 'Teilnehmende',
  'chat.toggle': 'Chat',
  'chat.title': 'Chat',
  'chat.e2ee': 'Ende-zu-Ende verschlüsselt',
  'chat.empty': 'Noch keine Nachrichten.',
  'chat.input': 'Nachricht',
  'chat.placeholder': 'Nachricht schreiben …',
  'chat.send': 'Senden',
  'chat.sendFile': 'Datei senden',
  'chat.takePhoto': 'Foto aufnehmen',
  'chat.download': 'Herunterladen',
  'chat.delete': 'Für alle löschen',
  'chat.unread': '{n} ungelesen',
  'chat.state.sending': 'wird gesendet …',
  'chat.state.sent': 'gesendet',
  'chat.state.delivered': 'zugestellt',
  'chat.state.failed': 'nicht gesendet',
  'chat.photo': 'Foto',
  'chat.photoAlt': 'Foto von {name}',
  'chat.photoLoading': 'Foto wird geladen …',
  'chat.undecryptable': 'Nachricht kann nicht entschlüsselt werden – der Link ist unvollständig oder falsch',
  'chat.error.offline': 'Keine Verbindung: Die Nachricht wurde nicht gesendet.',
  'chat.error.too_long': 'Die Nachricht ist zu lang.',
  'chat.error.too_large': 'Die Datei ist zu groß für diesen Server (höchstens 20 MB, sofern nicht anders eingestellt).',
  'chat.error.ended': 'Die Beratung ist beendet.',
  'chat.error.network': 'Keine Verbindung zum Server. Bitte prüfen Sie Ihre Internetverbindung.',
  'chat.error.upload': 'Die Datei konnte nicht hochgeladen werden.',
  'chat.error.download': 'Die Datei konnte nicht geladen werden.',
  'chat.error.gone': 'Die Datei ist nicht mehr vorhanden.',
  'chat.error.undecryptable': 'Die Datei kann nicht entschlüsselt werden – der Link ist unvollständig oder falsch.',
  'chat.error.photo': 'Es konnte kein Foto aufgenommen werden.',
  'chat.error.nocamera': 'Für ein Foto muss die Kamera eingeschaltet sein.',
  'call.inCall': 'Im Gespräch',
  'call.waitingRoom': 'Warteraum',
  'call.waitingEmpty': 'Niemand wartet.',
  'call.admit': 'Einlassen',
  'call.reject': 'Ablehnen',
  'call.admitName': '{name} einlassen',
  'call.rejectName': '{name} ablehnen',
  'call.someoneWaiting': '{name} wartet im Warteraum.',
  'call.screenOf': 'Bildschirm von {name}',
  'call.yourScreen': 'Ihr geteilter Bildschirm',
  'call.videoOf': 'Video von {name}',
  'call.yourVideo': 'Ihr Video',
  'call.sharing': 'Sie teilen Ihren Bildschirm.',
  'call.screenUnsupported': 'Bildschirmfreigabe wird auf diesem Gerät nicht unterstützt.',
  'call.screenFailed': 'Die Bildschirmfreigabe konnte nicht gestartet werden.',
  'call.inviteColleague': 'Kollegin oder Kollegen einladen',
  'call.colleagueLink': 'Link für Ihre Kollegin oder Ihren Kollegen',
  'call.colleagueHint': 'Nur für angemeldete Beraterinnen und Berater.',
  'call.endConfirmTitle': 'Beratung beenden?',
  'call.endConfirmText': 'Alle Teilnehmenden werden getrennt und der Einladungslink wird ungültig.',
  'call.endConfirmOk': 'Beratung beenden',
  'call.endedTitle': 'Die Beratung ist beendet',
  'call.endedText': 'Vielen Dank. Sie können dieses Fenster jetzt schließen.',
  'call.leftTitle': 'Sie haben die Beratung verlassen',
  'call.rejectedTitle': 'Teilnahme abgelehnt',
  'call.rejectedText': 'Bei Fragen wenden Sie sich bitte direkt an Ihre Beraterin oder Ihren Berater.',
  'call.disconnectedTitle': 'Verbindung getrennt',
  'call.reconnect': 'Erneut verbinden',
  'call.reconnecting.title': 'Verbindung unterbrochen – wird wiederhergestellt …',
  'call.reconnecting.next': 'Versuch {n} · nächster Versuch in {s} s',
  'call.reconnecting.trying': 'Versuch {n} läuft …',
  'call.reconnecting.retryNow': 'Jetzt versuchen',
  'call.reconnected': 'Verbindung wiederhergestellt.',
  'call.replacedTitle': 'In einem anderen Fenster geöffnet',
  'call.takeBack': 'Gespräch hierher zurückholen',
  'call.failedTitle': 'Verbindung verloren',
  'call.reload': 'Seite neu laden',

  'login.pageTitle': 'Anmeldung – Parley',
  'login.title': 'Anmeldung',
  'login.intro': 'Für Beraterinnen und Berater. Kundinnen und Kunden nutzen einfach ihren Einladungslink.',
  'login.username': 'Benutzername',
  'login.password': 'Passwort',
  'login.submit': 'Anmelden',
  'login.busy': 'Anmeldung läuft …',
  'login.error.unauthorized': 'Benutzername oder Passwort ist falsch.',
  'login.error.rate_limited': 'Zu viele Anmeldeversuche. Bitte warten Sie einen Moment und versuchen Sie es dann erneut.',
  'login.error.retryAfter': 'Zu viele Anmeldeversuche. Bitte versuchen Sie es in {seconds} Sekunden erneut.',
  'login.error.missing': 'Bitte geben Sie Benutzername und Passwort ein.',

  'console.pageTitle': 'Beratungen – Parley',
  'console.callPageTitle': 'Gespräch – Parley',
  'console.title': 'Ihre Beratungen',
  'console.signedInAs': 'Angemeldet als {name}',
  'console.available': 'Verfügbar',
  'console.away': 'Abwesend',
  'console.availabilityLabel': 'Verfügbar für Beratungen',
  'console.logout': 'Abmelden',
  'console.newTitle': 'Neue Beratung',
  'console.newLabel': 'Titel (optional)',
  'console.newPlaceholder': 'z. B. Baufinanzierung',
  'console.newSubmit': 'Beratung anlegen',
  'console.inviteTitle': 'Einladungslink',
  'console.inviteHint': 'Senden Sie diesen Link an Ihre Kundin oder Ihren Kunden. Er funktioniert nur für diese Beratung.',
  'console.inviteFor': 'Für: {title}',
  'console.openCall': 'Gespräch öffnen',
  'console.newInvite': 'Neuer Einladungslink',
  'console.newInviteHint': 'Der bisherige Link wird dabei ungültig.',
  'console.listEmpty': 'Noch keine Beratungen. Legen Sie oben eine neue an.',
  'console.created': 'Angelegt: {time}',
  'console.live': '{joined} im Gespräch, {waiting} wartend',
  'console.state.open': 'Offen',
  'console.state.ended': 'Beendet',
  'console.untitled': 'Beratung ohne Titel',
  'console.refresh': 'Aktualisieren',
  'console.loadFailed': 'Die Beratungen konnten nicht geladen werden.',
  'console.byColleague': 'Beratung von {name}',
  'console.columnTitle': 'Titel',
  'console.columnState': 'Status',
  'console.columnLive': 'Live',
  'console.columnCreated': 'Angelegt',
  'console.columnActions': 'Aktionen',

  'join.pageTitle': 'Videoberatung – Parley',
  'join.loading': 'Einladung wird geladen …',
  'join.resuming': 'Sie kehren in die Beratung zurück …',
  'join.heading': 'Videoberatung',
  'join.with': 'mit {advisor}',
  'join.topic': 'Thema: {title}',
  'join.privacy': 'Datenschutzhinweise',
  'join.deviceCheck': 'Kamera und Mikrofon',
  'join.deviceCheckHint': 'Sie können Kamera und Mikrofon auch ausgeschaltet lassen.',
  'join.nameLabel': 'Ihr Name (optional)',
  'join.namePlaceholder': 'Anonyme Teilnahme möglich',
  'join.nameHint': 'Wird nur Ihrer Beraterin oder Ihrem Berater im Gespräch angezeigt.',
  'join.consentHeading': 'Einwilligung',
  'join.consentLabel': 'Ich willige ein.',
  'join.submit': 'Jetzt teilnehmen',
  'join.busy': 'Verbindung wird hergestellt …',
  'join.submitHint': 'Bitte bestätigen Sie zuerst die Einwilligung.',
  'join.waitingTitle': 'Bitte warten Sie',
  'join.waitingText': 'Ihre Beraterin oder Ihr Berater lässt Sie gleich herein.',
  'join.waitingTextNamed': '{advisor} lässt Sie gleich herein.',
  'join.waitingHint': 'Lassen Sie dieses Fenster geöffnet.',
  'join.waitingLeave': 'Warteraum verlassen',
  'join.error.not_found.title': 'Dieser Link ist ungültig',
  'join.error.not_found.text': 'Bitte prüfen Sie den Link oder bitten Sie Ihre Beraterin oder Ihren Berater um einen neuen.',
  'join.error.expired.title': 'Dieser Link ist abgelaufen',
  'join.error.expired.text': 'Bitte bitten Sie Ihre Beraterin oder Ihren Berater um einen neuen Link.',
  'join.error.ended.title': 'Diese Beratung ist bereits beendet',
  'join.error.ended.text': 'Vielen Dank für Ihr Interesse. Für einen neuen Termin wenden Sie sich bitte an Ihre Beraterin oder Ihren Berater.',
  'join.error.generic.title': 'Die Einladung konnte nicht geladen werden',
  'join.rejoin': 'Erneut teilnehmen',
  'join.closeWindow': 'Sie können dieses Fenster jetzt schließen.',
};

/** @typedef {keyof typeof de} Key */
/** @typedef {'de'|'en'} Lang */

/** @type {Record<Key, string>} */
const en = {
  'brand.tagline': 'Video consultation',
  'lang.toggle': 'Deutsch',
  'lang.toggleLabel': 'Auf Deutsch umschalten',
  'lang.short': 'DE',
  'common.loading': 'Loading…',
  'common.retry': 'Try again',
  'common.copy': 'Copy',
  'common.copied': 'Link copied.',
  'common.copyFailed': 'Copying did not work. Please select the link and copy it by hand.',
  'common.cancel': 'Cancel',
  'common.close': 'Close',
  'common.backToConsole': 'Back to overview',
  'common.guest': 'Guest',
  'common.you': 'You',
  'common.validUntil': 'Valid until {time}',
  'common.opensNewTab': '(opens in a new tab)',
  'common.skipToContent': 'Skip to content',

  'error.bad_request': 'The request was not valid.',
  'error.unauthorized': 'Please sign in.',
  'error.forbidden': 'You are not allowed to do that.',
  'error.not_found': 'Not found.',
  'error.expired': 'The link has expired.',
  'error.ended': 'The consultation has already ended.',
  'error.conflict': 'That is not possible right now.',
  'error.rate_limited': 'Too many requests. Please wait a moment.',
  'error.csrf': 'The security check failed. Please reload the page.',
  'error.internal': 'Something went wrong on the server. Please try again.',
  'error.network': 'Cannot reach the server. Please check your internet connection.',
  'error.unknown': 'An unexpected error occurred.',
  'error.screen_unsupported': 'Screen sharing is not supported on this device.',
  'error.screen_failed': 'Screen sharing could not be started.',
  'error.device_denied': 'Access to the device is not allowed.',
  'error.device_notfound': 'The device was not found.',
  'error.device_inuse': 'The device is being used by another application.',
  'error.device_insecure': 'Devices are only available over a secure connection (HTTPS).',
  'error.device_unknown': 'The device could not be started.',
  'error.device_switch': 'Could not switch the device.',

  'ws.error.bad_message': 'The server did not understand a message.',
  'ws.error.unknown_type': 'The server does not support this.',
  'ws.error.too_large': 'A message was too large.',
  'ws.error.forbidden': 'Your role does not allow this.',
  'ws.error.bad_state': 'That is not possible right now.',
  'ws.error.not_found': 'This person is no longer waiting.',
  'ws.error.room_full': 'The consultation is full. Nobody else can be let in.',
  'ws.error.media_failed': 'The audio and video connection could not be set up.',
  'ws.error.rate_limited': 'Too many actions at once. Please slow down.',
  'ws.error.timeout': 'The server does not answer.',
  'ws.error.closed': 'The connection is closed.',

  'close.normal': 'The connection was closed.',
  'close.replaced': 'You opened the consultation in another window or on another device, so this connection was closed.',
  'close.rejected': 'Your participation was declined.',
  'close.ended': 'The consultation has ended.',
  'close.too_slow': 'Your internet connection was too slow. The connection was closed.',
  'close.policy': 'The server closed the connection because of a protocol error.',
  'close.too_large': 'The server closed the connection because a message was too large.',
  'close.connect_failed': 'Could not connect to the consultation.',
  'close.lost': 'The connection to the consultation was lost.',
  'close.failed': 'The connection to the consultation could not be restored. Please reload the page.',
  'close.unauthorized': 'Your sign-in has expired. Please sign in again.',
  'close.gone': 'This consultation is no longer available to you.',
  'close.e2ee_unsupported': 'This browser cannot take part in end-to-end encrypted calls. Please open the link in a current Chrome, Edge, Firefox or Safari.',
  'call.e2eeUnsupportedTitle': 'This browser is not supported',
  'e2ee.badge': 'End-to-end encrypted',
  'e2ee.badgeOff': 'Not end-to-end encrypted',
  'e2ee.badgeTitle': 'Video, audio and screen share are encrypted in your browser; the server cannot decrypt them.',
  'e2ee.safetyCode': 'Safety code {code} – compare it with the other side',
  'e2ee.error': 'Cannot decrypt – the link is incomplete or wrong',
  'e2ee.notEncrypted': 'Warning: this call is not end-to-end encrypted.',
  'e2ee.missingKey.title': 'The key for this call is missing',
  'e2ee.missingKey.text': 'This call is end-to-end encrypted and its key is not stored in this browser. Ask the person who created the consultation for the colleague link (it contains the key) and open it in full in this browser.',
  'e2ee.incompleteLink.title': 'The link is incomplete',
  'e2ee.incompleteLink.text': 'The link lacks the key for the encrypted connection (the part after the #). Please open the complete link from your invitation or ask your advisor for a new one.',
  'e2ee.inviteNoKey': 'The key of this consultation is not stored in this browser; the new link cannot contain it.',

  'device.camera': 'Camera',
  'device.microphone': 'Microphone',
  'device.cameraN': 'Camera {n}',
  'device.microphoneN': 'Microphone {n}',
  'device.level': 'Microphone level',
  'device.preview': 'Your camera preview',
  'device.cameraIsOff': 'Camera is off',
  'device.micIsOff': 'Microphone is off',
  'device.noCamera': 'No camera available',
  'device.error.camera': 'Camera: {reason}',
  'device.error.microphone': 'Microphone: {reason}',
  'device.error.both': 'Camera and microphone: {reason}',
  'device.error.denied': 'access not allowed. You can allow it in your browser settings.',
  'device.error.notfound': 'no device found.',
  'device.error.inuse': 'the device is being used by another application.',
  'device.error.insecure': 'only available over a secure connection (HTTPS).',
  'device.error.unknown': 'the device could not be started.',
  'device.switchFailed': 'Could not switch the device.',

  'call.mic': 'Microphone',
  'call.camera': 'Camera',
  'call.screen': 'Screen',
  'call.screenLabel': 'Share screen',
  'call.devices': 'Devices',
  'call.devicesTitle': 'Choose devices',
  'call.leave': 'Leave',
  'call.end': 'End',
  'call.endLabel': 'End the consultation for everyone',
  'call.controls': 'Call controls',
  'call.enableAudio': 'Turn on sound',
  'call.audioBlocked': 'Your browser blocked sound playback.',
  'call.status.connecting': 'Connecting…',
  'call.status.connected': 'Connected',
  'call.status.unstable': 'Connection unstable – reconnecting…',
  'call.status.reconnecting': 'Connection lost',
  'call.status.alone': 'Waiting for others to join…',
  'call.status.mediaFailed': 'The audio and video connection is interrupted.',
  'call.badge.reconnecting': 'reconnecting…',
  'call.badge.muted': 'Microphone off',
  'call.state.waiting': 'waiting',
  'call.state.joined': 'in the call',
  'call.state.reconnecting': 'reconnecting…',
  'call.state.left': 'left',
  'call.state.rejected': 'declined',
  'call.role.advisor': 'Advisor',
  'call.role.customer': 'Customer',
  'call.youSuffix': '{name} (you)',
  'call.participants': 'Participants',
  'chat.toggle': 'Chat',
  'chat.title': 'Chat',
  'chat.e2ee': 'End-to-end encrypted',
  'chat.empty': 'No messages yet.',
  'chat.input': 'Message',
  'chat.placeholder': 'Write a message …',
  'chat.send': 'Send',
  'chat.sendFile': 'Send file',
  'chat.takePhoto': 'Take photo',
  'chat.download': 'Download',
  'chat.delete': 'Delete for everyone',
  'chat.unread': '{n} unread',
  'chat.state.sending': 'sending …',
  'chat.state.sent': 'sent',
  'chat.state.delivered': 'delivered',
  'chat.state.failed': 'not sent',
  'chat.photo': 'Photo',
  'chat.photoAlt': 'Photo from {name}',
  'chat.photoLoading': 'Loading photo …',
  'chat.undecryptable': 'Message cannot be decrypted – the link is incomplete or wrong',
  'chat.error.offline': 'No connection: the message was not sent.',
  'chat.error.too_long': 'The message is too long.',
  'chat.error.too_large': 'The file is too large for this server (at most 20 MB unless configured otherwise).',
  'chat.error.ended': 'The consultation has ended.',
  'chat.error.network': 'No connection to the server. Please check your internet connection.',
  'chat.error.upload': 'The file could not be uploaded.',
  'chat.error.download': 'The file could not be loaded.',
  'chat.error.gone': 'The file is no longer available.',
  'chat.error.undecryptable': 'The file cannot be decrypted – the link is incomplete or wrong.',
  'chat.error.photo': 'No photo could be taken.',
  'chat.error.nocamera': 'To take a photo, the camera must be on.',
  'call.inCall': 'In the call',
  'call.waitingRoom': 'Waiting room',
  'call.waitingEmpty': 'Nobody is waiting.',
  'call.admit': 'Admit',
  'call.reject': 'Decline',
  'call.admitName': 'Admit {name}',
  'call.rejectName': 'Decline {name}',
  'call.someoneWaiting': '{name} is in the waiting room.',
  'call.screenOf': 'Screen of {name}',
  'call.yourScreen': 'Your shared screen',
  'call.videoOf': 'Video of {name}',
  'call.yourVideo': 'Your video',
  'call.sharing': 'You are sharing your screen.',
  'call.screenUnsupported': 'Screen sharing is not supported on this device.',
  'call.screenFailed': 'Screen sharing could not be started.',
  'call.inviteColleague': 'Invite a colleague',
  'call.colleagueLink': 'Link for your colleague',
  'call.colleagueHint': 'Only for signed-in advisors.',
  'call.endConfirmTitle': 'End the consultation?',
  'call.endConfirmText': 'Everyone will be disconnected and the invite link will stop working.',
  'call.endConfirmOk': 'End consultation',
  'call.endedTitle': 'The consultation has ended',
  'call.endedText': 'Thank you. You can close this window now.',
  'call.leftTitle': 'You left the consultation',
  'call.rejectedTitle': 'Participation declined',
  'call.rejectedText': 'If you have questions, please contact your advisor directly.',
  'call.disconnectedTitle': 'Disconnected',
  'call.reconnect': 'Reconnect',
  'call.reconnecting.title': 'Connection lost – reconnecting…',
  'call.reconnecting.next': 'Attempt {n} · next attempt in {s} s',
  'call.reconnecting.trying': 'Attempt {n} in progress…',
  'call.reconnecting.retryNow': 'Try now',
  'call.reconnected': 'Connection restored.',
  'call.replacedTitle': 'Opened in another window',
  'call.takeBack': 'Take the call back here',
  'call.failedTitle': 'Connection lost',
  'call.reload': 'Reload page',

  'login.pageTitle': 'Sign in – Parley',
  'login.title': 'Sign in',
  'login.intro': 'For advisors. Customers simply use their invite link.',
  'login.username': 'User name',
  'login.password': 'Password',
  'login.submit': 'Sign in',
  'login.busy': 'Signing in…',
  'login.error.unauthorized': 'User name or password is wrong.',
  'login.error.rate_limited': 'Too many sign-in attempts. Please wait a moment and try again.',
  'login.error.retryAfter': 'Too many sign-in attempts. Please try again in {seconds} seconds.',
  'login.error.missing': 'Please enter your user name and password.',

  'console.pageTitle': 'Consultations – Parley',
  'console.callPageTitle': 'Call – Parley',
  'console.title': 'Your consultations',
  'console.signedInAs': 'Signed in as {name}',
  'console.available': 'Available',
  'console.away': 'Away',
  'console.availabilityLabel': 'Available for consultations',
  'console.logout': 'Sign out',
  'console.newTitle': 'New consultation',
  'console.newLabel': 'Title (optional)',
  'console.newPlaceholder': 'e.g. mortgage',
  'console.newSubmit': 'Create consultation',
  'console.inviteTitle': 'Invite link',
  'console.inviteHint': 'Send this link to your customer. It works only for this consultation.',
  'console.inviteFor': 'For: {title}',
  'console.openCall': 'Open call',
  'console.newInvite': 'New invite link',
  'console.newInviteHint': 'The previous link stops working.',
  'console.listEmpty': 'No consultations yet. Create one above.',
  'console.created': 'Created: {time}',
  'console.live': '{joined} in the call, {waiting} waiting',
  'console.state.open': 'Open',
  'console.state.ended': 'Ended',
  'console.untitled': 'Untitled consultation',
  'console.refresh': 'Refresh',
  'console.loadFailed': 'Could not load the consultations.',
  'console.byColleague': 'Consultation of {name}',
  'console.columnTitle': 'Title',
  'console.columnState': 'State',
  'console.columnLive': 'Live',
  'console.columnCreated': 'Created',
  'console.columnActions': 'Actions',

  'join.pageTitle': 'Video consultation – Parley',
  'join.loading': 'Loading your invitation…',
  'join.resuming': 'Taking you back to your consultation…',
  'join.heading': 'Video consultation',
  'join.with': 'with {advisor}',
  'join.topic': 'Topic: {title}',
  'join.privacy': 'Privacy notice',
  'join.deviceCheck': 'Camera and microphone',
  'join.deviceCheckHint': 'You may also keep your camera and microphone turned off.',
  'join.nameLabel': 'Your name (optional)',
  'join.namePlaceholder': 'Anonymous allowed',
  'join.nameHint': 'Shown only to your advisor during the call.',
  'join.consentHeading': 'Consent',
  'join.consentLabel': 'I consent.',
  'join.submit': 'Join now',
  'join.busy': 'Connecting…',
  'join.submitHint': 'Please give your consent first.',
  'join.waitingTitle': 'Please wait',
  'join.waitingText': 'Your advisor will let you in shortly.',
  'join.waitingTextNamed': '{advisor} will let you in shortly.',
  'join.waitingHint': 'Please keep this window open.',
  'join.waitingLeave': 'Leave the waiting room',
  'join.error.not_found.title': 'This link is not valid',
  'join.error.not_found.text': 'Please check the link or ask your advisor for a new one.',
  'join.error.expired.title': 'This link has expired',
  'join.error.expired.text': 'Please ask your advisor for a new link.',
  'join.error.ended.title': 'This consultation has already ended',
  'join.error.ended.text': 'Thank you for your interest. For a new appointment please contact your advisor.',
  'join.error.generic.title': 'Could not load the invitation',
  'join.rejoin': 'Join again',
  'join.closeWindow': 'You can close this window now.',
};

/** @type {Record<Lang, Record<Key, string>>} */
const DICTS = { de, en };
const STORAGE_KEY = 'parley.lang';

/** @returns {Lang} */
function initialLang() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved === 'de' || saved === 'en') return saved;
  } catch {
    // storage disabled
  }
  return 'de';
}

/** @type {Lang} */
let current = initialLang();
/** @type {Set<(lang: Lang) => void>} */
const listeners = new Set();

/** @returns {Lang} */
export function getLang() {
  return current;
}

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
 * Translates a key.
 * @param {Key} key
 * @param {Record<string, string|number>} [params] values for {placeholders}
 * @returns {string}
 */
export function t(key, params) {
  return fill(DICTS[current][key] ?? de[key] ?? key, params);
}

/**
 * Translates a key built at run time; null when unknown.
 * @param {string} key
 * @param {Record<string, string|number>} [params]
 * @returns {string|null}
 */
export function tryT(key, params) {
  if (!Object.prototype.hasOwnProperty.call(de, key)) return null;
  return t(/** @type {Key} */ (key), params);
}

/**
 * Switches the language, remembers it and re-renders.
 * @param {Lang} lang
 */
export function setLang(lang) {
  if (lang !== 'de' && lang !== 'en') return;
  current = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // storage disabled: only this page view
  }
  applyTranslations();
  for (const fn of [...listeners]) {
    try {
      fn(lang);
    } catch (err) {
      console.error('parley: language listener failed', err);
    }
  }
}

/**
 * @param {(lang: Lang) => void} fn
 * @returns {() => void}
 */
export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/**
 * Fills data-i18n* attributes under root and sets <html lang>.
 * @param {ParentNode} [root]
 */
export function applyTranslations(root = document) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll('[data-i18n]')) {
    const key = el.getAttribute('data-i18n') ?? '';
    const s = tryT(key);
    if (s !== null) el.textContent = s;
  }
  /** @type {[string, string][]} */
  const attrs = [
    ['data-i18n-placeholder', 'placeholder'],
    ['data-i18n-aria-label', 'aria-label'],
    ['data-i18n-title', 'title'],
  ];
  for (const [data, attr] of attrs) {
    for (const el of root.querySelectorAll(`[${data}]`)) {
      const s = tryT(el.getAttribute(data) ?? '');
      if (s !== null) el.setAttribute(attr, s);
    }
  }
  for (const el of root.querySelectorAll('[data-lang-toggle]')) {
    // The button names the other language, in that language.
    el.setAttribute('lang', current === 'de' ? 'en' : 'de');
  }
  const titleKey = document.body?.dataset.titleKey;
  if (titleKey) {
    const s = tryT(titleKey);
    if (s !== null) document.title = s;
  }
}

/**
 * Applies translations and wires every [data-lang-toggle] button.
 */
export function initI18n() {
  applyTranslations();
  for (const btn of document.querySelectorAll('[data-lang-toggle]')) {
    btn.addEventListener('click', () => setLang(current === 'de' ? 'en' : 'de'));
  }
}
