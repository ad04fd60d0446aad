package config

import (
	"path"
	"strings"
)

// PathSettings returns the settings of the most specific pattern of
// c.Paths that matches streamPath, or the zero PathConfig if none does.
// Only the winning pattern applies; settings are not merged. The result
// shares its slices with c: treat it as read-only.
//
// Matching uses path.Match, where "*" stays within one segment, with one
// addition: the pattern "*" alone matches every path. Specificity:
//
//  1. a pattern without wildcards (an exact path) beats any glob;
//  2. among globs, the one with more literal characters wins
//     ("live/cam*" beats "live/*", which beats "*/*", which beats "*");
//  3. then the one with fewer "*" wildcards ("live/cam?" beats "live/cam*");
//  4. then the one with more single-character wildcards, "?" or a "[...]"
//     class ("live/[ab]*" beats "live/*");
//  5. then the lexically smaller pattern, so the choice is deterministic.
func (c *Config) PathSettings(streamPath string) PathConfig {
	best, found := c.PathPattern(streamPath)
	if !found {
		return PathConfig{}
	}
	return c.Paths[best]
}

// PathPattern returns the pattern of c.Paths whose settings apply to
// streamPath (the most specific match, see PathSettings), and whether any
// pattern matches.
func (c *Config) PathPattern(streamPath string) (pattern string, ok bool) {
	best, found := "", false
	for p := range c.Paths {
		if !patternMatches(p, streamPath) {
			continue
		}
		if !found || moreSpecific(p, best) {
			best, found = p, true
		}
	}
	return best, found
}

// patternMatches reports whether pattern matches p. A malformed pattern
// (refused by Validate) matches nothing.
func patternMatches(pattern, p string) bool {
	if pattern == "*" {
		return true
	}
	ok, err := path.Match(pattern, p)
	return err == nil && ok
}

// moreSpecific reports whether pattern a is more specific than b.
func moreSpecific(a, b string) bool {
	sa, sb := specificity(a), specificity(b)
	if sa.exact != sb.exact {
		return sa.exact
	}
	if sa.literals != sb.literals {
		return sa.literals > sb.literals
	}
	if sa.stars != sb.stars {
		return sa.stars < sb.stars
	}
	if sa.singles != sb.singles {
		return sa.singles > sb.singles
	}
	return a < b
}

type spec struct {
	exact    bool // no wildcard at all
	literals int  // characters matched literally
	stars    int  // "*" wildcards
	singles  int  // "?" wildcards and "[...]" classes
}

// specificity scans a path.Match pattern: "*" and "?" are wildcards, a
// "[...]" class is a wildcard, "\x" is the literal x.
func specificity(p string) spec {
	var s spec
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '*':
			s.stars++
		case '?':
			s.singles++
		case '[':
			s.singles++
			// A class matches one character: skip to its closing ']'
			// (in path.Match the first unescaped ']' closes it).
			for i++; i < len(p) && p[i] != ']'; i++ {
				if p[i] == '\\' {
					i++
				}
			}
		case '\\':
			i++
			s.literals++
		default:
			s.literals++
		}
	}
	s.exact = !strings.ContainsAny(p, `*?[\`)
	return s
}
