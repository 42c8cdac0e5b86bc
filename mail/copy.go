package mail

import (
	"strings"
	"time"
)

// ContractCopy is the e-mail a customer asks for with a copy of a contract
// they signed: a short text in their language and the signed PDF attached.
type ContractCopy struct {
	Lang     string // "de" or "en" (anything else: German)
	Company  string // sender name and signature
	FromAddr string
	To       string
	Document string // the contract's name, e.g. "Kreditvertrag"
	FileName string // the attachment's name, as the download names it
	PDF      []byte
	Date     time.Time
	Key      string // idempotency key: the Message-ID
}

// Message writes the copy as a Message.
func (c ContractCopy) Message() Message {
	doc := strings.TrimSuffix(c.Document, ".pdf")
	var subject, text string
	if c.Lang == "en" {
		subject = "Your signed contract “" + doc + "” – " + c.Company
		text = "Hello,\n\nas you asked, attached is a copy of the signed contract “" + doc + "” as a PDF.\n\n" +
			"You can also download it with your personal link for as long as it is kept.\n" +
			"If you did not ask for this e-mail, please tell us.\n\nKind regards\n" + c.Company + "\n"
	} else {
		subject = "Ihr unterschriebener Vertrag „" + doc + "“ – " + c.Company
		text = "Guten Tag,\n\nwie gewünscht erhalten Sie im Anhang eine Kopie des unterschriebenen Vertrags „" + doc + "“ als PDF.\n\n" +
			"Sie können ihn auch über Ihren persönlichen Link herunterladen, solange er aufbewahrt wird.\n" +
			"Falls Sie diese E-Mail nicht angefordert haben, geben Sie uns bitte Bescheid.\n\nMit freundlichen Grüßen\n" + c.Company + "\n"
	}
	return Message{
		FromName: c.Company, FromAddr: c.FromAddr, To: c.To, Subject: subject, Text: text,
		MessageID: MessageID(c.Key, c.FromAddr), Date: c.Date,
		Attachments: []Attachment{{Name: c.FileName, ContentType: "application/pdf", Data: c.PDF}},
	}
}
