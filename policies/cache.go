package policies

import (
	"sync"

	"github.com/casbin/casbin/v2/persist/cache"
)

// boundedMap is a concurrent map that forgets everything when it is full.
// Decisions are keyed by user, tenant and facts, so an unbounded cache would
// grow with the network; starting over now and then costs a few misses.
type boundedMap[V any] struct {
	mu  sync.RWMutex
	m   map[string]V
	max int
}

func newBoundedMap[V any](max int) *boundedMap[V] {
	return &boundedMap[V]{m: make(map[string]V), max: max}
}

func (b *boundedMap[V]) get(k string) (V, bool) {
	b.mu.RLock()
	v, ok := b.m[k]
	b.mu.RUnlock()
	return v, ok
}

func (b *boundedMap[V]) put(k string, v V) {
	b.mu.Lock()
	if len(b.m) >= b.max {
		clear(b.m)
	}
	b.m[k] = v
	b.mu.Unlock()
}

func (b *boundedMap[V]) del(k string) bool {
	b.mu.Lock()
	_, ok := b.m[k]
	delete(b.m, k)
	b.mu.Unlock()
	return ok
}

func (b *boundedMap[V]) reset() {
	b.mu.Lock()
	clear(b.m)
	b.mu.Unlock()
}

// decisionCache is the cache.Cache of the SyncedCachedEnforcer: Casbin's
// default one never evicts. Expiry times are ignored: the Engine replaces
// the whole enforcer, cache included, whenever the policy changes.
type decisionCache struct{ m *boundedMap[bool] }

var _ cache.Cache = decisionCache{}

func (c decisionCache) Set(key string, value bool, _ ...interface{}) error {
	c.m.put(key, value)
	return nil
}

func (c decisionCache) Get(key string) (bool, error) {
	v, ok := c.m.get(key)
	if !ok {
		return false, cache.ErrNoSuchKey
	}
	return v, nil
}

func (c decisionCache) Delete(key string) error {
	if !c.m.del(key) {
		return cache.ErrNoSuchKey
	}
	return nil
}

func (c decisionCache) Clear() error {
	c.m.reset()
	return nil
}
