// Command seqdiff trains and compares masked diffusion (MDLM) and
// autoregressive language models on DNA.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

func main() {
	ctx, stop := notifyStop(os.Stderr)
	err := newRootCmd().ExecuteContext(ctx)
	code := exitCode(ctx, err)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "seqdiff:", err)
	}
	os.Exit(code)
}

// interrupted is the cause of a context cancelled by a signal.
type interrupted struct {
	sig    os.Signal
	number int
}

func (i interrupted) Error() string { return "interrupted by " + i.sig.String() }

// stopsCleanly is set once the command that runs watches its context (the
// cleanStop annotation).
var stopsCleanly atomic.Bool

// notifyStop is the one place seqdiff handles SIGINT and SIGTERM. For a
// command that stops cleanly, the first signal cancels ctx (with an
// interrupted cause) and says so; the signals then get their default
// action back, so that a second one quits at once. Any other command is
// ended by the first signal as if seqdiff did not catch it.
func notifyStop(stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			signal.Reset(os.Interrupt, syscall.SIGTERM)
			if !stopsCleanly.Load() {
				p, _ := os.FindProcess(os.Getpid())
				if p.Signal(s) != nil {
					os.Exit(128 + signalNumber(s))
				}
				return
			}
			fmt.Fprintln(stderr, "seqdiff: stopping cleanly (a second signal quits at once)")
			cancel(interrupted{sig: s, number: signalNumber(s)})
		case <-done:
		}
	}()
	return ctx, func() { close(done); signal.Stop(ch); cancel(nil) }
}

func signalNumber(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return int(n)
	}
	return 2
}
