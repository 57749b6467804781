package broadcast_test

import (
	"testing"
	"time"

	"github.com/clerksync/clerksync/internal/broadcast"
)

func TestNotifyWakesEveryWaiter(t *testing.T) {
	t.Parallel()
	var b broadcast.Broadcaster
	c1, c2 := b.C(), b.C()
	select {
	case <-c1:
		t.Fatal("woken before Notify")
	default:
	}
	b.Notify()
	for _, c := range []<-chan struct{}{c1, c2} {
		select {
		case <-c:
		case <-time.After(time.Second):
			t.Fatal("a waiter was not woken")
		}
	}
	select {
	case <-b.C():
		t.Fatal("a channel taken after Notify is already closed")
	default:
	}
	b.Notify()
	b.Notify() // with no waiter: nothing to do
}
