package broker

import "time"

// LeaseEnd answers whether the delivery deliveryID of queue q still holds
// its message's lease on this node's state, and until when (storage's one
// lease-liveness rule, the rule settle applies). A delivery, message or
// queue that does not exist holds no lease; err is only a failed read.
func (b *Broker) LeaseEnd(q, deliveryID string) (time.Time, bool, error) {
	end, live, err := b.store.LeaseEnd(q, deliveryID, time.Now().UnixNano())
	if err != nil || !live {
		return time.Time{}, false, err
	}
	return time.Unix(0, end), true, nil
}
