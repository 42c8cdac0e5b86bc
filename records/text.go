package records

import (
	"strings"
	"unicode"
)

// forbiddenInText reports whether r must not appear in a name or other
// short text a person enters: control characters (Cc), format characters
// (Cf: among them the bidirectional controls U+200E/200F, U+202A–202E,
// U+2066–2069, which can reorder how a name reads in a signed PDF or a
// log) and line or paragraph separators. The zero-width joiner and
// non-joiner (U+200C, U+200D) stay allowed: some scripts and emoji need
// them and they do not reorder text.
func forbiddenInText(r rune) bool {
	switch {
	case r == '\u200c' || r == '\u200d':
		return false
	case unicode.IsControl(r), unicode.Is(unicode.Cf, r), unicode.In(r, unicode.Zl, unicode.Zp):
		return true
	}
	return false
}

// StripText removes what CleanText refuses (forbiddenInText) from s: for
// names that were stored before CleanText refused them and now go into a
// signed document.
func StripText(s string) string {
	return strings.Map(func(r rune) rune {
		if forbiddenInText(r) {
			return -1
		}
		return r
	}, s)
}
