//go:build !(linux && (amd64 || arm64))

package dist

import "errors"

type api struct{}

func initMPI([]string) (*Comm, error) {
	return nil, errors.New("MPI is supported on linux/amd64 and linux/arm64 only")
}

func (c *Comm) AllreduceF32([]float32) error { return nil }
func (c *Comm) AllreduceF64([]float64) error { return nil }
func (c *Comm) Bcast([]byte, int) error      { return nil }
func (c *Comm) Barrier() error               { return nil }
func (c *Comm) Abort(int)                    {}
func (c *Comm) Finalize() error              { return nil }
