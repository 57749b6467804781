package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/feedhook"
	"github.com/clerksync/clerksync/svixsig"
)

// ReceiveCommand is an application's endpoint for the forwarded changes feed, to try
// one: it verifies each delivery with the Signing Secret (package feedhook), prints
// the change and answers 204, or 503 to a share of them to watch clerksync send again.
type ReceiveCommand struct {
	*Main

	listen    string
	secret    string
	failRate  float64
	asJSON    bool
	newSecret bool
	log       commonFlags // only --log-level and --log-format

	// Listener, when set, is used instead of listening on --listen (tests).
	Listener net.Listener
	// Ready, when set, is called with the base URL once the endpoint listens.
	Ready func(url string)

	mu       sync.Mutex
	attempts map[string]int // entry id → deliveries seen
	out      *entryWriter
}

// defaultReceiveAddr is where receive listens unless told otherwise.
const defaultReceiveAddr = "127.0.0.1:4000"

// ParseFlags reads the command's flags and the secret.
func (c *ReceiveCommand) ParseFlags(args []string) error {
	fs := newFlagSet("receive [--listen ADDR] [flags] | receive --new-secret",
		"Receive the changes feed that clerksync serve forwards (--forward-url), as your application would:\n"+
			"verify each delivery with the Signing Secret (CLERKSYNC_FORWARD_SECRET), print the change and answer 204;\n"+
			"401 to a delivery whose signature does not verify. --new-secret prints a new Signing Secret to give\n"+
			"to both serve and your application.", c.Stderr)
	fs.StringVar(&c.listen, "listen", defaultReceiveAddr, "address to listen on, such as :4000 or 127.0.0.1:4000; every path is the endpoint")
	fs.StringVar(&c.secret, "secret", c.Getenv("CLERKSYNC_FORWARD_SECRET"),
		"the Signing Secret serve signs with, whsec_… (env CLERKSYNC_FORWARD_SECRET, which keeps it out of the process list)")
	fs.Float64Var(&c.failRate, "fail-rate", 0, "answer 503 to this share of the deliveries, from 0 to 1 (such as 0.3), to watch clerksync send them again")
	fs.BoolVar(&c.asJSON, "json", false, "print each change as one JSON line, as delivered")
	fs.BoolVar(&c.newSecret, "new-secret", false, "print a new Signing Secret (whsec_…) and exit")
	c.log.registerLog(fs, c.Getenv)
	if err := parseFlagsOnly(fs, args, "receive", ""); err != nil {
		return err
	}
	if c.newSecret {
		return nil
	}
	if err := checkAddr("--listen", c.listen, c.listen); err != nil {
		return err
	}
	if c.failRate < 0 || c.failRate > 1 {
		return usagef("--fail-rate %g is not a share: use a number from 0 (never fail) to 1 (always fail), such as 0.3", c.failRate)
	}
	if strings.TrimSpace(c.secret) == "" {
		return usagef("CLERKSYNC_FORWARD_SECRET is not set: give the Signing Secret serve signs with " +
			"(make one with: clerksync receive --new-secret, and give the same to serve)")
	}
	if _, err := svixsig.DecodeSecret(c.secret); err != nil {
		return usagef("CLERKSYNC_FORWARD_SECRET (--secret) is not a Signing Secret: it should be whsec_ and base64 " +
			"(make one with: clerksync receive --new-secret)")
	}
	return nil
}

// Run receives until ctx ends.
func (c *ReceiveCommand) Run(ctx context.Context, args []string) error {
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	if c.newSecret {
		_, err := fmt.Fprintln(c.Stdout, svixsig.GenerateSecret())
		return err
	}
	logger, err := c.log.logger(c.Stderr)
	if err != nil {
		return err
	}
	c.attempts = make(map[string]int)
	c.out = &entryWriter{w: c.Stdout, asJSON: c.asJSON, started: true}
	h, err := feedhook.New(c.secret, c.handle, feedhook.WithLogger(logger))
	if err != nil {
		return &usageError{err}
	}
	ln := c.Listener
	if ln == nil {
		if ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", c.listen); err != nil {
			return listenError(c.listen, err)
		}
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	url := listenerURL(ln)
	if !c.asJSON {
		fmt.Fprintf(c.Stderr, "Receiving changes on %s/ (any path). Start serve with:\n"+
			"  CLERKSYNC_FORWARD_SECRET=<the same secret> clerksync serve --forward-url %s/changes\n"+
			"Ctrl-C to stop.\n", url, url)
	}
	if c.Ready != nil {
		c.Ready(url)
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
	}
	// Ctrl-C: let the deliveries being printed finish, then close. A connection that
	// the forwarder opened but has sent nothing on yet would hold Shutdown for seconds.
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		_ = srv.Close()
	}
	return nil
}

// handle prints a verified entry, or refuses it with 503 as --fail-rate asks: the
// signature is checked first, so that only real deliveries count.
func (c *ReceiveCommand) handle(_ context.Context, e clerksync.FeedEntry) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.attempts[e.ID]++
	n := c.attempts[e.ID]
	if c.failRate > 0 && rand.Float64() < c.failRate {
		if !c.asJSON {
			fmt.Fprintf(c.Stdout, "%s answered 503 to #%d %s %s (attempt %d, --fail-rate): it will be sent again\n",
				time.Now().Format(time.TimeOnly), e.Seq, oneLine(e.Type), oneLine(e.ObjectID), n)
		}
		return fmt.Errorf("failing on purpose (--fail-rate): %w", feedhook.ErrUnavailable)
	}
	if c.asJSON {
		return c.out.write([]clerksync.FeedEntry{e})
	}
	note := time.Now().Format(time.TimeOnly)
	if n > 1 {
		note += fmt.Sprintf(" · attempt %d (sent again: act on an entry once, by its id %s)", n, e.ID)
	}
	return writeEntryBlock(c.Stdout, e, note)
}
