package broker

import "time"

// LeaseEnd answers whether the delivery deliveryID of queue q still holds
// its message's lease on this node's state, and until when (storage's one
// lease-liveness rule, the rule settle applies). A delivery, message or
// queue that does not exist holds no lease; err is a failed read, or (on
// a follower about to answer "not live") no word from the leader.
func (b *Broker) LeaseEnd(q, deliveryID string) (time.Time, bool, error) {
	end, live, err := b.store.LeaseEnd(q, deliveryID, time.Now().UnixNano())
	if (err != nil || !live) && !b.selfLeads() {
		// A follower that lags may not have applied an extend made
		// through the leader: "not live" counts only once this node has
		// caught up with the leader (a stream frees a slot on it).
		if serr := b.syncWithLeader(); serr != nil {
			return time.Time{}, false, serr
		}
		end, live, err = b.store.LeaseEnd(q, deliveryID, time.Now().UnixNano())
	}
	if err != nil || !live {
		return time.Time{}, false, err
	}
	return time.Unix(0, end), true, nil
}
