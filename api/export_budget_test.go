package api

// BodyBytesHeld is the webhook body bytes now reserved against the
// node-wide body budget.
func BodyBytesHeld(s *Server) int64 { return s.bodyBytes.Load() }
