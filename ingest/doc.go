// Package ingest owns what hookq decides about an incoming webhook before
// anything is stored: provider signature verification (token, basic, hmac,
// standard webhooks and the provider presets of docs/SOURCES.md), replay
// windows, handshakes (Slack url_verification and the presets' own),
// provider event ids, dedup-key extraction, and the validation and
// defaults of a source's configuration (docs/API.md §4). It also exports
// Sign and SignRequest, the matching signers used by tests, the load
// generator and `hookq send`.
//
// Everything here is a pure function of (config, request method and URL,
// headers, raw body, now).
// The package must never import anything outside the standard library, touch
// storage or the network, read the clock or randomness, log, or put a secret
// or a request body into an error message.
package ingest
