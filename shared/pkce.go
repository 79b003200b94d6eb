package shared

// ValidVerifier reports whether v is a code_verifier of RFC 7636 §4.1:
// 43 to 128 characters of [A-Za-z0-9-._~].
func ValidVerifier(v string) bool { panic("unimplemented") }

// ValidChallenge reports whether c can be an S256 code_challenge: 43
// characters of the base64url alphabet (RFC 7636 §4.2).
func ValidChallenge(c string) bool { panic("unimplemented") }

// S256Challenge returns BASE64URL(SHA256(verifier)) (RFC 7636 §4.2).
func S256Challenge(verifier string) string { panic("unimplemented") }

// VerifyS256 reports, in constant time, whether verifier matches challenge
// (RFC 7636 §4.6). "plain" is not supported anywhere.
func VerifyS256(verifier, challenge string) bool { panic("unimplemented") }
