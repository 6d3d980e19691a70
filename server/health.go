package server

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
)

// healthz answers whether the process is alive; it asks nothing else.
func healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// readyz asks every dependency at once, each bounded by a short deadline, and
// answers 200 when all answer or 503 naming those that do not. Nothing is
// cached: once a dependency is back the next probe says so.
func readyz(checks []Check, log *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
		defer cancel()
		var mu sync.Mutex
		down := map[string]string{}
		var wg sync.WaitGroup
		for _, ch := range checks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := ch.Check(ctx); err != nil {
					log.Warn("readiness check failed", slog.String("dependency", ch.Name), slog.String("error", err.Error()))
					mu.Lock()
					down[ch.Name] = "not reachable"
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(down) > 0 {
			names := make([]string, 0, len(down))
			for n := range down {
				names = append(names, n)
			}
			sort.Strings(names)
			return &apperr.Error{Code: apperr.Unavailable, Message: "not ready: " + strings.Join(names, ", ") + " not reachable", Fields: down}
		}
		status := map[string]string{}
		for _, ch := range checks {
			status[ch.Name] = "ok"
		}
		return c.JSON(fiber.Map{"status": "ready", "checks": status})
	}
}
