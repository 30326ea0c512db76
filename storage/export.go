package storage

// DeliveryID is the deliveryId of the lease of message seq at attempt with
// the leader-drawn random part rnd, built exactly as Lease builds it (for
// views that list a message's delivery history).
func DeliveryID(seq uint64, attempt uint32, rnd []byte) string {
	return deliveryID(seq, attempt, rnd)
}
