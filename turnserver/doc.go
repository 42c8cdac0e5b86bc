// Package turnserver is Parley's TURN relay: an embedded TURN server
// (pion/turn v4) for customers whose networks allow no direct UDP path to
// the SFU, or the credential minting for an external coturn instead.
//
// # Credentials: TURN REST, coturn's use-auth-secret
//
// Parley never stores TURN users. Both sides share one secret (Config.Secret)
// and every participant receives short-lived credentials derived from it
// when joining a call (Server.ICEServers, or the pure function Credentials):
//
//	username   = "<unix expiry>:<session>:<participant>"   e.g. "1767225600:c_ab12:p-7f3a"
//	credential = base64(HMAC-SHA1(Secret, username))
//
// (Without a session: "<unix expiry>:<participant>".) The session is an
// opaque id, in Parley a consultation's: the expiry is never later than the
// consultation's end (Grant.NotAfter), and with WithSessionCheck the
// embedded server refuses the credentials once the session is no longer
// open and closes the relays they hold (CloseEnded, and a sweep every 30s).
// An external coturn only checks the expiry.
//
// This is the "TURN REST API" scheme (draft-uberti-behave-turn-rest) that
// coturn implements as use-auth-secret. The TURN server recomputes the HMAC
// from the username, so it can check a credential without any state, and
// rejects it once the expiry (the number before the first ':') has passed.
// A credential is only valid for TURN; leaking one gives relay access until
// its expiry (at most Config.CredentialTTL, default 12h, and never past
// the consultation's end), nothing else.
//
// The participant part should be an opaque, pseudonymous id, never a name or
// e-mail address: TURN servers (coturn in particular) log usernames.
//
// When Config.Secret is empty, the embedded server generates a random secret
// at start; credentials then stop working on restart, which is harmless
// because browsers fetch fresh ones whenever they (re)join.
//
// # The embedded server
//
// New listens on UDP and TCP (default port 3478 each) and, with a
// certificate, on TLS ("turns:", conventionally port 5349 or 443). Relayed
// traffic uses UDP ports RelayMinPort..RelayMaxPort (default 49160-49200) on
// ListenIP and is announced with PublicIP; open those ports in the firewall.
// pion/turn relays IPv4 only. Log lines never contain credentials or full
// client addresses (IPv4 is shortened to its /24, IPv6 to its /48), and
// pion's own log output is routed to the slog logger at debug level after the
// same anonymisation.
//
// A relay must not become a way into the host or its network. The server's
// own addresses (PublicIP, ListenIP and every interface address, loopback
// included) are refused at every port but the ones the program allows
// (WithOwnPorts: the SFU's media port) and the address:port pairs in
// Config.AllowedPeerAddrs. Peers that are loopback, private (RFC 1918, ULA,
// CGNAT), link-local (including cloud metadata at 169.254.169.254),
// multicast or reserved are refused unless in Config.AllowedPeers. TURN
// permissions are per IP address, so besides the permission check every
// relay socket checks each datagram's address and port, both ways. One
// username may hold at most 16 allocations at a time.
//
// # Using an external coturn instead
//
// Set Config.ExternalURLs (e.g. "turn:turn.example.com:3478?transport=udp",
// "turns:turn.example.com:5349?transport=tcp") and Config.Secret; Parley then
// listens on nothing and only mints credentials for those URLs. Configure
// coturn with the same secret:
//
//	# /etc/turnserver.conf
//	use-auth-secret
//	static-auth-secret=<the same value as Parley's turn.secret>
//	realm=parley
//	listening-ip=...            # and external-ip=PUBLIC/PRIVATE behind NAT
//	min-port=49160
//	max-port=49200
//	no-cli
//	no-multicast-peers
//	denied-peer-ip=10.0.0.0-10.255.255.255   # etc.: no relaying into private nets
//
// The separator between expiry and participant is ':' (coturn's default
// rest-api-separator).
package turnserver
