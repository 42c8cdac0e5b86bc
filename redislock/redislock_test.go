package redislock

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/parley-video/parley/redistest"
	"github.com/redis/go-redis/v9"
)

// TestLockExcludes: lockers standing for three nodes take turns on one
// name; at no time do two hold it, and every one gets it in the end.
func TestLockExcludes(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	nodes := []*Locker{New(rdb, prefix, 0), New(rdb, prefix, 0), New(rdb, prefix, 0)}
	var mu sync.Mutex
	inside, most, total := 0, 0, 0
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := nodes[i%3].Lock(t.Context(), "document:d1")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			inside++
			most = max(most, inside)
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			inside--
			total++
			mu.Unlock()
			unlock()
		}()
	}
	wg.Wait()
	if most != 1 || total != 12 {
		t.Fatalf("at most %d inside at once, %d of 12 got the lock; want 1 and 12", most, total)
	}
	// Released locks leave no key.
	if keys, _ := rdb.Keys(t.Context(), prefix+"*").Result(); len(keys) != 0 {
		t.Fatalf("keys left after release: %v", keys)
	}
}

// TestLockLeaseAndToken: a held lock is renewed past its lease and has a
// TTL; a waiter gives up when its context ends; a holder whose lease ran
// out does not release the next holder's lock.
func TestLockLeaseAndToken(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	l := New(rdb, prefix, 600*time.Millisecond)
	unlock, err := l.Lock(t.Context(), "x")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // 2.5 leases
	ttl, err := rdb.PTTL(t.Context(), prefix+RedisKeyLock+"x").Result()
	if err != nil || ttl <= 0 || ttl > 600*time.Millisecond {
		t.Fatalf("held lock after 2.5 leases: ttl %v %v; want renewed", ttl, err)
	}
	short, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	_, err = l.Lock(short, "x")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Lock while held: %v; want the context's deadline", err)
	}
	unlock()
	unlock() // twice is harmless

	// A lease that ran out (the holder stalled): the key is someone
	// else's now, and the old holder's release leaves it alone.
	unlock, err = l.Lock(t.Context(), "y")
	if err != nil {
		t.Fatal(err)
	}
	rdb.Set(t.Context(), prefix+RedisKeyLock+"y", "someone-else", time.Minute)
	unlock()
	if v, _ := rdb.Get(t.Context(), prefix+RedisKeyLock+"y").Result(); v != "someone-else" {
		t.Fatalf("old holder's release removed the new holder's lock (now %q)", v)
	}
}

// TestLockRedisDown: no Redis, no lock, an error wrapping ErrUnavailable.
func TestLockRedisDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dead := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1})
	defer dead.Close()
	if _, err := New(dead, "parley-test:down:", 0).Lock(t.Context(), "x"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Lock with Redis down: %v; want ErrUnavailable", err)
	}
}
