package storage

import pb "github.com/hookq/hookq/proto/raftcmd"

// DeliveryReceivedAt is the receive time (unix nanos) of the message that
// delivery deliveryID of queue q leased, for the delivery-age metric; ok is
// false when the id is malformed or the message is gone.
func (s *Store) DeliveryReceivedAt(q, deliveryID string) (int64, bool) {
	seq, _, _, ok := parseDeliveryID(deliveryID)
	if !ok {
		return 0, false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec := &pb.MessageRecord{}
	if ok, err := getProto(s.db, msgKey(pMsg, q, seq), rec); err != nil || !ok {
		return 0, false
	}
	return rec.ReceivedUnixNano, true
}
