package web

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// consentText is the consent a customer gives before joining, in German and
// English. Version identifies the exact wording (a hash of both texts, the
// company name included), so a consent record says what was agreed to.
type consentText struct {
	Version string
	DE, EN  string
}

// consentDE and consentEN are the texts; %s is the company name.
const (
	consentDE = `Videoberatung mit %s

Für die Beratung überträgt Ihr Browser Bild und Ton Ihrer Kamera und Ihres Mikrofons – und Ihren Bildschirm, wenn Sie ihn freigeben – an die Teilnehmenden dieser Beratung. Die Übertragung ist Ende-zu-Ende-verschlüsselt und läuft ausschließlich über unseren eigenen Server; Bild und Ton werden weder aufgezeichnet noch gespeichert.

Außerdem verarbeiten wir den Namen und die Angaben, die Sie freiwillig machen, und ein Sitzungs-Cookie, das Sie dieser Beratung zuordnet. Name und Angaben werden %RETDE% gelöscht, das Cookie mit dem Ende der Beratung. Aufbewahrt wird nur ein Nachweis dieser Einwilligung: welcher Text, in welcher Sprache, wann und für welche Beratung – ohne Ihren Namen und ohne Ihre IP-Adresse.

Ihre Einwilligung ist freiwillig. Sie können sie jederzeit für die Zukunft widerrufen, indem Sie die Beratung verlassen. Einzelheiten und Ihre Rechte finden Sie in den Datenschutzhinweisen unter /privacy.`

	consentEN = `Video consultation with %s

For the consultation, your browser sends the picture and sound of your camera and microphone – and your screen, if you share it – to the participants of this consultation. The transmission is end-to-end encrypted and runs only through our own server; picture and sound are never recorded or stored.

We also process the name and answers you choose to give and a session cookie that links you to this consultation. Name and answers are deleted %RETEN%, the cookie when the consultation ends. We keep only a record of this consent: which text, in which language, when and for which consultation – without your name and without your IP address.

Your consent is voluntary. You can withdraw it at any time for the future by leaving the consultation. Details and your rights are in the privacy notice at /privacy.`
)

func newConsentText(company string, preJoin time.Duration) consentText {
	retDE, retEN := "mit dem Ende der Beratung", "when the consultation ends"
	if preJoin > 0 {
		retDE = humanDuration(preJoin, "de") + " nach dem Ende der Beratung"
		retEN = humanDuration(preJoin, "en") + " after the consultation ends"
	}
	t := consentText{
		DE: strings.NewReplacer("%s", company, "%RETDE%", retDE).Replace(consentDE),
		EN: strings.NewReplacer("%s", company, "%RETEN%", retEN).Replace(consentEN),
	}
	h := sha256.Sum256([]byte("de\x00" + t.DE + "\x00en\x00" + t.EN))
	t.Version = hex.EncodeToString(h[:6])
	return t
}
