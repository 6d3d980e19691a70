package server_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"attivi/server"
)

// The OpenAPI document (server/openapi.json) is written by hand; these tests
// keep it true to the app: the same routes, references that resolve, path
// parameters declared. When one fails, its message says what to add to or
// remove from the document.

const openAPIFile = "server/openapi.json"

// documentedMethods are the methods compared between the app and the
// document. Fiber answers HEAD for every GET by itself, so HEAD is left out.
var documentedMethods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true}

// operationKeys are the keys of an OpenAPI path item that are operations.
var operationKeys = map[string]bool{"get": true, "put": true, "post": true, "delete": true, "options": true, "head": true, "patch": true, "trace": true}

var (
	fiberParam    = regexp.MustCompile(`:([A-Za-z0-9_]+)\??`)
	templateParam = regexp.MustCompile(`\{([^{}]+)\}`)
)

func TestOpenAPI(t *testing.T) {
	f := newFixture(t, server.DefaultOptions)
	resp, body := f.do(t, httptest.NewRequest("GET", "/api/openapi.json", nil)) // no login
	if resp.StatusCode != 200 {
		t.Fatalf("GET /api/openapi.json: status %d, want 200 without a login (%.300s)", resp.StatusCode, body)
	}
	if got := resp.Header.Get(fiber.HeaderContentType); got != fiber.MIMEApplicationJSON {
		t.Errorf("GET /api/openapi.json: Content-Type %q, want %q", got, fiber.MIMEApplicationJSON)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("%s is not valid JSON: %v", openAPIFile, err)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1") {
		t.Errorf("%s: openapi is %q, want a 3.1 version such as \"3.1.0\"", openAPIFile, v)
	}
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatalf("%s has no paths object", openAPIFile)
	}

	t.Run("every API route is described and nothing else", func(t *testing.T) {
		served := servedAPIRoutes(t, f.app)
		documented := documentedRoutes(t, paths)
		for _, r := range sortedKeys(served) {
			if !documented[r] {
				method, path, _ := strings.Cut(r, " ")
				t.Errorf("%s is served (server/routes.go) but not described: add paths[%q].%s to %s",
					r, path, strings.ToLower(method), openAPIFile)
			}
		}
		for _, r := range sortedKeys(documented) {
			if !served[r] {
				method, path, _ := strings.Cut(r, " ")
				t.Errorf("%s describes %s, which the app does not serve: remove paths[%q].%s, or correct its path or method to the route's in server/routes.go",
					openAPIFile, r, path, strings.ToLower(method))
			}
		}
		if len(served) == 0 {
			t.Error("the app serves no API route: the comparison would prove nothing")
		}
	})

	t.Run("every $ref resolves", func(t *testing.T) {
		walkRefs(doc, "#", func(at, ref string) {
			if !strings.HasPrefix(ref, "#/components/") {
				t.Errorf("%s: %s has $ref %q: point it at a component (#/components/...)", openAPIFile, at, ref)
				return
			}
			if _, ok := resolve(doc, ref); !ok {
				t.Errorf("%s: %s has $ref %q, which does not exist: add %s or correct the reference",
					openAPIFile, at, ref, strings.ReplaceAll(strings.TrimPrefix(ref, "#/"), "/", "."))
			}
		})
	})

	t.Run("every path parameter is declared", func(t *testing.T) {
		forEachOperation(paths, func(path, method string, item, op map[string]any) {
			where := fmt.Sprintf("%s %s", strings.ToUpper(method), path)
			declared := map[string]bool{}
			for _, list := range []any{item["parameters"], op["parameters"]} {
				ps, _ := list.([]any)
				for _, p := range ps {
					param, ok := resolveObject(doc, p)
					if !ok {
						continue // reported by the $ref check
					}
					if param["in"] != "path" {
						continue
					}
					name, _ := param["name"].(string)
					if !strings.Contains(path, "{"+name+"}") {
						t.Errorf("%s: %s declares the path parameter %q, which is not in the path: remove it", openAPIFile, where, name)
					}
					if param["required"] != true {
						t.Errorf("%s: %s: the path parameter %q must have \"required\": true", openAPIFile, where, name)
					}
					declared[name] = true
				}
			}
			for _, m := range templateParam.FindAllStringSubmatch(path, -1) {
				if !declared[m[1]] {
					t.Errorf("%s: %s does not declare its path parameter {%s}: add {\"name\": %q, \"in\": \"path\", \"required\": true, \"schema\": {\"type\": \"string\"}} to paths[%q].parameters",
						openAPIFile, where, m[1], m[1], path)
				}
			}
		})
	})

	t.Run("every operation has a summary and a success response", func(t *testing.T) {
		ids := map[string]string{}
		forEachOperation(paths, func(path, method string, _, op map[string]any) {
			where := fmt.Sprintf("%s %s", strings.ToUpper(method), path)
			if s, _ := op["summary"].(string); strings.TrimSpace(s) == "" {
				t.Errorf("%s: %s has no summary: add a one-line \"summary\"", openAPIFile, where)
			}
			if id, _ := op["operationId"].(string); id != "" {
				if other, dup := ids[id]; dup {
					t.Errorf("%s: %s and %s have the same operationId %q: make them unique", openAPIFile, other, where, id)
				}
				ids[id] = where
			}
			responses, _ := op["responses"].(map[string]any)
			success := false
			for code := range responses {
				if n, err := strconv.Atoi(code); err == nil && n >= 200 && n < 300 {
					success = true
				}
			}
			if !success {
				t.Errorf("%s: %s has no success (2xx) response: add the one it answers", openAPIFile, where)
			}
		})
	})
}

// servedAPIRoutes returns "METHOD /path/{param}" for every route the app
// serves, except those of the staff web interface, with Fiber's :param
// written as OpenAPI's {param}.
func servedAPIRoutes(t *testing.T, app *fiber.App) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, r := range app.GetRoutes(true) { // true: without the middleware of app.Use and groups
		if !documentedMethods[r.Method] || isWebRoute(r) {
			continue
		}
		if strings.ContainsAny(r.Path, "*+") {
			t.Errorf("%s %s is a wildcard route: describe it in %s and teach servedAPIRoutes how to write its path", r.Method, r.Path, openAPIFile)
			continue
		}
		out[r.Method+" "+fiberParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	return out
}

// isWebRoute says whether a route belongs to the staff web interface, which
// is not part of the API: one of its handlers is in package web.
func isWebRoute(r fiber.Route) bool {
	for _, h := range r.Handlers {
		if fn := runtime.FuncForPC(reflect.ValueOf(h).Pointer()); fn != nil && strings.HasPrefix(fn.Name(), "attivi/web.") {
			return true
		}
	}
	return false
}

// documentedRoutes returns "METHOD /path" for every operation of the
// document.
func documentedRoutes(t *testing.T, paths map[string]any) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for path, v := range paths {
		item, _ := v.(map[string]any)
		for key := range item {
			if !operationKeys[key] {
				continue
			}
			method := strings.ToUpper(key)
			if !documentedMethods[method] {
				t.Errorf("%s describes %s %s: describe only GET, POST, PUT, PATCH and DELETE operations (Fiber answers HEAD for every GET by itself): remove paths[%q].%s",
					openAPIFile, method, path, path, key)
				continue
			}
			out[method+" "+path] = true
		}
	}
	return out
}

// forEachOperation calls fn for every operation of the document, in path
// order.
func forEachOperation(paths map[string]any, fn func(path, method string, item, op map[string]any)) {
	for _, path := range sortedKeys(paths) {
		item, _ := paths[path].(map[string]any)
		for _, method := range sortedKeys(item) {
			if op, ok := item[method].(map[string]any); ok && operationKeys[method] {
				fn(path, method, item, op)
			}
		}
	}
}

// walkRefs calls fn with the location (a JSON pointer) and target of every
// $ref in v.
func walkRefs(v any, at string, fn func(at, ref string)) {
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["$ref"].(string); ok {
			fn(at, ref)
		}
		for k, e := range x {
			walkRefs(e, at+"/"+strings.NewReplacer("~", "~0", "/", "~1").Replace(k), fn)
		}
	case []any:
		for i, e := range x {
			walkRefs(e, at+"/"+strconv.Itoa(i), fn)
		}
	}
}

// resolve follows a local reference ("#/components/schemas/Person").
func resolve(doc map[string]any, ref string) (any, bool) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	var cur any = doc
	for _, tok := range strings.Split(rest, "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// resolveObject returns v, or the object its $ref points to.
func resolveObject(doc map[string]any, v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	if ref, isRef := m["$ref"].(string); isRef {
		target, ok := resolve(doc, ref)
		if !ok {
			return nil, false
		}
		m, ok = target.(map[string]any)
		return m, ok
	}
	return m, true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
