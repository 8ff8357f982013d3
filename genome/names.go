package genome

import (
	"fmt"
	"strings"
)

// CanonicalName returns the key under which chromosome names are aliases
// of one another. The rule: surrounding white space is dropped, a leading
// "chr" (any case) is dropped when something follows it, the rest is
// upper-cased, and the mitochondrion's "M" becomes "MT". So "chr1", "Chr1"
// and "1" share the key "1", "chrX" and "x" share "X", and "chrM", "chrMT",
// "M" and "MT" share "MT". Names that differ in more than that (such as
// "chrUn_gl000220" and "GL000220.1") are not aliases.
func CanonicalName(name string) string {
	s := strings.TrimSpace(name)
	if len(s) > 3 && strings.EqualFold(s[:3], "chr") {
		s = s[3:]
	}
	s = strings.ToUpper(s)
	if s == "M" {
		s = "MT"
	}
	return s
}

// ResolveName finds the record among names that the user's name refers to:
// the name itself when present, else the one name with the same
// CanonicalName. It fails, listing what the file holds, when there is no
// such name or more than one.
func ResolveName(name string, names []string) (string, error) {
	for _, n := range names {
		if n == name {
			return n, nil
		}
	}
	key := CanonicalName(name)
	var hits []string
	for _, n := range names {
		if CanonicalName(n) == key {
			hits = append(hits, n)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return "", fmt.Errorf("no record %q (names match when equal after dropping a leading \"chr\" and ignoring case, with M = MT); the file has %s: %w", name, listNames(names), ErrNoSuchRecord)
	}
	return "", fmt.Errorf("record name %q is ambiguous: it matches %s: %w", name, listNames(hits), ErrAmbiguousName)
}

func listNames(names []string) string {
	const show = 10
	if len(names) == 0 {
		return "no records"
	}
	q := make([]string, 0, show)
	for i, n := range names {
		if i == show {
			break
		}
		q = append(q, fmt.Sprintf("%q", n))
	}
	s := strings.Join(q, ", ")
	if len(names) > show {
		s += fmt.Sprintf(" and %d more", len(names)-show)
	}
	return s
}
