package conferences_test

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// A minimal but strict RFC 5545 reader for the tests: CRLF line ends only,
// content lines of at most 75 octets, folding by CRLF + one space or tab,
// parameters with quoted values, TEXT unescaping that refuses unknown
// escapes, and BEGIN/END nesting.

type icsProp struct {
	Name   string
	Params map[string]string
	Value  string // raw, still escaped
}

// Text is the value unescaped as TEXT.
func (p icsProp) Text() (string, error) {
	var b strings.Builder
	for i := 0; i < len(p.Value); i++ {
		c := p.Value[i]
		if c != '\\' {
			if c == ',' || c == ';' {
				return "", fmt.Errorf("%s: unescaped %q in TEXT", p.Name, c)
			}
			b.WriteByte(c)
			continue
		}
		if i+1 == len(p.Value) {
			return "", fmt.Errorf("%s: dangling backslash", p.Name)
		}
		i++
		switch p.Value[i] {
		case '\\', ';', ',':
			b.WriteByte(p.Value[i])
		case 'n', 'N':
			b.WriteByte('\n')
		default:
			return "", fmt.Errorf("%s: bad escape \\%c", p.Name, p.Value[i])
		}
	}
	return b.String(), nil
}

type icsComponent struct {
	Name       string
	Props      []icsProp
	Components []*icsComponent
}

// Get returns the only property name; an error when absent or repeated.
func (c *icsComponent) Get(name string) (icsProp, error) {
	var found []icsProp
	for _, p := range c.Props {
		if p.Name == name {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		return icsProp{}, fmt.Errorf("%s: %d %s properties, want 1", c.Name, len(found), name)
	}
	return found[0], nil
}

func (c *icsComponent) All(name string) []icsProp {
	var out []icsProp
	for _, p := range c.Props {
		if p.Name == name {
			out = append(out, p)
		}
	}
	return out
}

func (c *icsComponent) Sub(name string) []*icsComponent {
	var out []*icsComponent
	for _, s := range c.Components {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// parseICS reads one VCALENDAR.
func parseICS(data []byte) (*icsComponent, error) {
	s := string(data)
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("not UTF-8")
	}
	if !strings.HasSuffix(s, "\r\n") {
		return nil, fmt.Errorf("does not end with CRLF")
	}
	raw := strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n")
	var lines []string
	for i, l := range raw {
		if strings.ContainsAny(l, "\r\n") {
			return nil, fmt.Errorf("line %d: bare CR or LF", i+1)
		}
		if len(l) > 75 {
			return nil, fmt.Errorf("line %d: %d octets, more than 75", i+1, len(l))
		}
		if l == "" {
			return nil, fmt.Errorf("line %d: empty", i+1)
		}
		if l[0] == ' ' || l[0] == '\t' {
			if len(lines) == 0 {
				return nil, fmt.Errorf("line %d: continuation of nothing", i+1)
			}
			lines[len(lines)-1] += l[1:]
			continue
		}
		lines = append(lines, l)
	}
	var stack []*icsComponent
	var root *icsComponent
	for _, l := range lines {
		p, err := parseLine(l)
		if err != nil {
			return nil, err
		}
		switch p.Name {
		case "BEGIN":
			c := &icsComponent{Name: p.Value}
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				top.Components = append(top.Components, c)
			} else if root != nil {
				return nil, fmt.Errorf("more than one top-level component")
			} else {
				root = c
			}
			stack = append(stack, c)
		case "END":
			if len(stack) == 0 || stack[len(stack)-1].Name != p.Value {
				return nil, fmt.Errorf("END:%s does not close the open component", p.Value)
			}
			stack = stack[:len(stack)-1]
		default:
			if len(stack) == 0 {
				return nil, fmt.Errorf("property %s outside a component", p.Name)
			}
			top := stack[len(stack)-1]
			top.Props = append(top.Props, p)
		}
	}
	if len(stack) != 0 || root == nil || root.Name != "VCALENDAR" {
		return nil, fmt.Errorf("not one complete VCALENDAR")
	}
	return root, nil
}

// parseLine splits name *(";" param) ":" value.
func parseLine(l string) (icsProp, error) {
	p := icsProp{Params: map[string]string{}}
	i := strings.IndexAny(l, ";:")
	if i <= 0 {
		return p, fmt.Errorf("line %q: no name", l)
	}
	p.Name = l[:i]
	for _, r := range p.Name {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return p, fmt.Errorf("line %q: bad name", l)
		}
	}
	rest := l[i:]
	for rest[0] == ';' {
		rest = rest[1:]
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return p, fmt.Errorf("line %q: bad parameter", l)
		}
		name := rest[:eq]
		rest = rest[eq+1:]
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return p, fmt.Errorf("line %q: unterminated quote", l)
			}
			val, rest = rest[1:1+end], rest[2+end:]
		} else {
			end := strings.IndexAny(rest, ";:")
			if end < 0 {
				return p, fmt.Errorf("line %q: no value", l)
			}
			val, rest = rest[:end], rest[end:]
			if strings.ContainsAny(val, `",`) {
				return p, fmt.Errorf("line %q: unquoted parameter value with a special character", l)
			}
		}
		p.Params[name] = val
		if rest == "" {
			return p, fmt.Errorf("line %q: no value", l)
		}
	}
	if rest[0] != ':' {
		return p, fmt.Errorf("line %q: no colon", l)
	}
	p.Value = rest[1:]
	return p, nil
}
