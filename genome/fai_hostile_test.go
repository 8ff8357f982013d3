package genome

import (
	"errors"
	"strings"
	"testing"
)

// A .fai whose record would end past any file (its byte offsets overflow
// int64) is malformed: it used to open and then fail with negative byte
// offsets in the message.
func TestReadFaiOverflow(t *testing.T) {
	dir := t.TempDir()
	for _, line := range []string{
		"a\t9223372036854775000\t8\t8\t9\n",
		"a\t14\t9223372036854775000\t8\t9\n",
		"a\t4611686018427387904\t8\t1\t2\n",
	} {
		p := writeFile(t, dir, "g.fa.fai", []byte(line))
		_, err := ReadFai(p)
		if !errors.Is(err, ErrBadIndex) || !strings.Contains(err.Error(), p+":1: malformed .fai line: record a:") ||
			!strings.Contains(err.Error(), "would end past any file") {
			t.Errorf("%q: %v", line, err)
		}
	}
}
