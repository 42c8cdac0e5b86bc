// Package signature owns everything about a handwritten signature in Parley:
// the pen data captured by the browser (capture format version 1, see
// CAPTURE.md), the biometric features computed from it and the plausibility
// check built on them, the rendering of the strokes into an image for the
// PDF's signature appearance, the biometric envelope that seals the raw pen
// data to an offline escrow key, and the signing and verification of the PDF.
//
// Pen data is biometric personal data. Nothing in this package logs it or
// writes it anywhere; plaintext leaves the package only as the return value of
// functions that are asked for it. The server holds only the escrow public key
// and so can seal an envelope but never open one.
//
// The package does not import sfu, signaling or web: they depend on it, not
// the other way round.
package signature
