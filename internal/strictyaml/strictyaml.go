// Package strictyaml decodes YAML configuration files strictly: an
// unknown key, a key given twice, a value of the wrong type or a second
// document is an error, reported as "PATH:LINE: what", so that a typo in
// a config never silently falls back to a default.
package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Decode decodes the YAML document data (read from path) into v. An empty
// file leaves v as it is.
func Decode(path string, data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return Error(path, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return fmt.Errorf("%s:%d: a second YAML document (---); a config file holds one", path, extra.Line)
	} else if !errors.Is(err, io.EOF) {
		return Error(path, err)
	}
	return nil
}

var (
	lineRE    = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownRE = regexp.MustCompile(`^field (\S+) not found in type .*$`)
)

// Error rewrites an error of yaml.v3 as "PATH:LINE: what" (one per line
// it names, joined by "; "), with "field x not found in type T" read as
// `unknown key "x"`. Other errors are prefixed with path.
func Error(path string, err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	out := make([]string, len(msgs))
	for i, m := range msgs {
		m = strings.TrimPrefix(m, "yaml: ")
		if g := lineRE.FindStringSubmatch(m); g != nil {
			what := g[2]
			if u := unknownRE.FindStringSubmatch(what); u != nil {
				what = fmt.Sprintf("unknown key %q", u[1])
			}
			out[i] = path + ":" + g[1] + ": " + what
		} else {
			out[i] = path + ": " + m
		}
	}
	return errors.New(strings.Join(out, "; "))
}
