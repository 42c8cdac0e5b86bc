package signature

// Typed signatures: the accessible alternative to drawing (CAPTURE.md,
// "Typed signatures"). The signer types their name and confirms it with
// an explicit checkbox; there is no pen data, so no features, no
// plausibility check of handwriting and no biometric envelope. The seal
// manifest records the method (MethodTyped), so a verifier reports "typed,
// no biometric record" instead of a missing envelope, and a drawn
// signature cannot be relabelled.

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds of a typed name, in characters (Unicode code points).
const (
	MinTypedNameRunes = 2
	MaxTypedNameRunes = 64 // as a name given when joining
)

// Reject codes of a typed signature (RejectError.Code).
const (
	CodeTypedNameEmpty   = "typed_name_empty"
	CodeTypedNameShort   = "typed_name_too_short"
	CodeTypedNameLong    = "typed_name_too_long"
	CodeTypedNameLetters = "typed_name_no_letter"
	CodeNotConfirmed     = "not_confirmed"
)

// CheckTypedName returns the typed name as it goes into the PDF (white
// space runs collapsed to one space, trimmed), or a *RejectError: empty,
// shorter than MinTypedNameRunes, longer than MaxTypedNameRunes, without a
// letter, or with control or format characters (text direction overrides
// would let the shown name differ from the stored one).
func CheckTypedName(name string) (string, error) {
	if !utf8.ValidString(name) {
		return "", reject(CodeTypedNameLetters, "not UTF-8")
	}
	clean := strings.Join(strings.Fields(name), " ")
	n := utf8.RuneCountInString(clean)
	switch {
	case n == 0:
		return "", reject(CodeTypedNameEmpty, "no name typed")
	case n < MinTypedNameRunes:
		return "", reject(CodeTypedNameShort, "%d characters, at least %d", n, MinTypedNameRunes)
	case n > MaxTypedNameRunes:
		return "", reject(CodeTypedNameLong, "%d characters, at most %d", n, MaxTypedNameRunes)
	}
	letter := false
	for _, r := range clean {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return "", reject(CodeTypedNameLetters, "control or format character U+%04X", r)
		}
		letter = letter || unicode.IsLetter(r)
	}
	if !letter {
		return "", reject(CodeTypedNameLetters, "no letter")
	}
	return clean, nil
}
