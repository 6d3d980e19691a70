package policies

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/lib/pq"
)

// Channel is the PostgreSQL notification channel of policy changes; the
// triggers of migration 0003 notify it with the new policy_state version.
const Channel = "attivi_policy"

// Watch keeps the engine in step with the database, so that a change made
// on any instance (or directly in SQL) is enforced here within a second:
// it LISTENs on Channel and reloads when notified of a version it has not
// loaded; after a reconnection (notifications may have been lost) it
// reloads; and every few seconds it compares policy_state.version with the
// loaded one, the safety net for anything else.
//
// Watch returns once it is listening, having caught up with changes made
// since the last load. It stops when ctx is cancelled; done is closed then.
func (e *Engine) Watch(ctx context.Context, dbURL string) (done <-chan struct{}, err error) {
	reconnected := make(chan struct{}, 1)
	l := pq.NewListener(dbURL, 100*time.Millisecond, 10*time.Second, func(ev pq.ListenerEventType, err error) {
		switch ev {
		case pq.ListenerEventDisconnected:
			e.log.Warn("policy watcher disconnected", slog.Any("error", err))
		case pq.ListenerEventConnectionAttemptFailed:
			e.log.Warn("policy watcher cannot reconnect", slog.Any("error", err))
		case pq.ListenerEventReconnected:
			e.log.Info("policy watcher reconnected")
			select {
			case reconnected <- struct{}{}:
			default:
			}
		}
	})
	listening := make(chan error, 1)
	go func() { listening <- l.Listen(Channel) }()
	select {
	case err := <-listening:
		if err != nil {
			l.Close()
			return nil, err
		}
	case <-ctx.Done():
		l.Close()
		return nil, ctx.Err()
	}
	e.reloadIfChanged(ctx)
	stopped := make(chan struct{})
	go e.watch(ctx, l, reconnected, stopped)
	return stopped, nil
}

func (e *Engine) watch(ctx context.Context, l *pq.Listener, reconnected <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	defer l.Close()
	tick := time.NewTicker(e.checkEvery)
	defer tick.Stop()
	var ticks int
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-l.Notify:
			if n == nil {
				continue // sent after a reconnection, handled below
			}
			if v, err := strconv.ParseInt(n.Extra, 10, 64); err == nil && v <= e.cur.Load().generation {
				continue // loaded already (a burst of changes, or our own Replace)
			}
			e.reload(ctx, "notified")
		case <-reconnected:
			e.reload(ctx, "reconnected")
		case <-tick.C:
			e.reloadIfChanged(ctx)
			if ticks++; ticks%12 == 0 { // about a minute: check the listening connection too
				if err := l.Ping(); err != nil {
					e.log.Warn("policy watcher ping", slog.String("error", err.Error()))
				}
			}
		}
	}
}

// reloadIfChanged reloads when policy_state moved past the loaded version.
func (e *Engine) reloadIfChanged(ctx context.Context) {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	v, err := stateVersion(qctx, e.db)
	cancel()
	if err != nil {
		if !errors.Is(ctx.Err(), context.Canceled) {
			e.log.Warn("policy version check", slog.String("error", err.Error()))
		}
		return
	}
	if v != e.cur.Load().generation {
		e.reload(ctx, "version check")
	}
}

func (e *Engine) reload(ctx context.Context, why string) {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	before := e.cur.Load()
	if err := e.Reload(rctx); err != nil {
		if ctx.Err() == nil {
			e.log.Error("policy reload", slog.String("cause", why), slog.String("error", err.Error()))
		}
		return
	}
	after := e.cur.Load()
	if after != before {
		e.log.Debug("policy reloaded", slog.String("cause", why),
			slog.Int64("state", after.generation), slog.Int64("version", after.version))
	}
}
