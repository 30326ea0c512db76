package broker

import "strings"

// internalPrefixes are the package prefixes of hookq's sentinel errors
// ("storage: queue not found"): useful in logs, noise to a client.
var internalPrefixes = []string{"storage: ", "api: ", "broker: ", "raftfsm: ", "ingest: ", "cluster: "}

// PublicMessage is err's text for a client: the text of its chain with
// the internal package prefixes dropped wherever a part of it starts
// with one ("source \"s\": storage: source not found" → "source \"s\":
// source not found"). The HTTP error body and GRPCStatus use it.
func PublicMessage(err error) string {
	msg := err.Error()
	for _, p := range internalPrefixes {
		if !strings.Contains(msg, p) {
			continue
		}
		msg = strings.TrimPrefix(msg, p)
		msg = strings.ReplaceAll(msg, ": "+p, ": ")
	}
	return msg
}
