// Command catalog serves an event catalog: the list of every event type a
// producer sends, with its description, version, an example and a JSON Schema,
// so that consumers can discover what they may subscribe to. The same Catalog
// validates what the sender publishes (sender.Config.Catalog).
//
//	go run ./examples/catalog                          # serves, fetches the catalog as a consumer would, exits
//	go run ./examples/catalog -serve -addr 127.0.0.1:8080
//	curl -s http://127.0.0.1:8080/webhooks/events      # while -serve runs
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"text/tabwriter"
	"time"

	"github.com/hookkit/hookkit/event"
)

// The Go types of the events' data: Define registers them with an example.
type (
	InvoicePaid struct {
		InvoiceID   string `json:"invoice_id"`
		AmountCents int64  `json:"amount_cents"`
		Currency    string `json:"currency"`
	}
	CustomerCreated struct {
		CustomerID string `json:"customer_id"`
		Email      string `json:"email"`
	}
)

// newCatalog is the part you would put in your own service.
func newCatalog() (*event.Catalog, error) {
	c := event.NewCatalog(event.CatalogConfig{Strict: true}) // unregistered types cannot be published
	defs := []event.Definition{
		event.Define("invoice.paid", "Sent when an invoice is paid in full.", "2",
			InvoicePaid{InvoiceID: "in_1001", AmountCents: 4200, Currency: "eur"}),
		event.Define("customer.created", "Sent when a customer signs up.", "1",
			CustomerCreated{CustomerID: "cus_1", Email: "ada@example.com"}),
		{
			Type:        "invoice.refunded",
			Description: "Sent when a paid invoice is refunded, in part or in full.",
			Example:     map[string]any{"invoice_id": "in_1001", "amount_cents": 1000},
			Schema: json.RawMessage(`{"type":"object","required":["invoice_id","amount_cents"],
				"properties":{"invoice_id":{"type":"string","pattern":"^in_"},"amount_cents":{"type":"integer","minimum":1}}}`),
		},
		{
			Type:        "invoice.settled",
			Description: "Replaced by invoice.paid version 2, which carries the currency.",
			Version:     "1",
			Example:     map[string]any{"invoice_id": "in_1001"},
			Deprecated:  true,
		},
	}
	for _, d := range defs {
		if err := c.Register(d); err != nil {
			return nil, err
		}
	}
	return c, nil
}

type config struct {
	Addr  string
	Serve bool
}

func main() {
	cfg := config{Addr: "127.0.0.1:0"}
	flag.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address")
	flag.BoolVar(&cfg.Serve, "serve", false, "keep serving after the demo until interrupted")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "catalog:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, stdout io.Writer) error {
	catalog, err := newCatalog()
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/webhooks/events", catalog) // GET and HEAD, with an ETag; other methods 405

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		_ = srv.Close()
		<-served
	}()
	url := "http://" + ln.Addr().String() + "/webhooks/events"
	fmt.Fprintf(stdout, "serving the catalog at %s\n\n", url)

	if err := discover(ctx, url, stdout); err != nil {
		return err
	}
	validate(catalog, stdout)

	if cfg.Serve {
		fmt.Fprintf(stdout, "\nserving until interrupted (Ctrl-C): curl -s %s\n", url)
		select {
		case <-ctx.Done():
		case err := <-served:
			return err
		}
	}
	return nil
}

// discover fetches the catalog as a consumer would, then revalidates it with
// its ETag.
func discover(ctx context.Context, url string, w io.Writer) error {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	get := func(etag string) (*http.Response, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, nil, err
		}
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp, body, err
	}

	resp, body, err := get("")
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return errors.New("GET catalog: " + resp.Status)
	}
	var doc struct {
		Events []struct {
			Type        string          `json:"type"`
			Description string          `json:"description"`
			Version     string          `json:"version"`
			Deprecated  bool            `json:"deprecated"`
			Example     json.RawMessage `json:"example"`
			Schema      json.RawMessage `json:"schema"`
		} `json:"events"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return err
	}
	etag := resp.Header.Get("ETag")
	fmt.Fprintf(w, "GET %d %s, %d bytes, ETag %s, Cache-Control %s\n\n", resp.StatusCode, resp.Header.Get("Content-Type"), len(body), etag, resp.Header.Get("Cache-Control"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  type\tversion\tschema\texample\tdescription")
	for _, e := range doc.Events {
		desc := e.Description
		if e.Deprecated {
			desc = "[deprecated] " + desc
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", e.Type, e.Version, yes(len(e.Schema) > 0), e.Example, desc)
	}
	_ = tw.Flush()

	resp, _, err = get(etag)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nGET with If-None-Match: %s: %d %s (nothing changed, nothing sent)\n", etag, resp.StatusCode, http.StatusText(resp.StatusCode))
	if resp.StatusCode != http.StatusNotModified {
		return errors.New("revalidation: want 304, got " + resp.Status)
	}
	return nil
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// validate shows what the catalog refuses before anything is published.
func validate(c *event.Catalog, w io.Writer) {
	fmt.Fprintln(w, "\nwhat a sender with this catalog refuses:")
	check := func(what, typ string, data any) {
		ev, err := event.New(typ, data)
		if err == nil {
			err = c.Validate(ev)
		}
		fmt.Fprintf(w, "  %-44s %v\n", what, err)
	}
	check("an unregistered type", "order.shipped", map[string]any{"order_id": "ord_1"})
	check("data of the wrong type", "invoice.paid", map[string]any{"invoice_id": "in_1", "amount_cents": "42"})
	check("data that breaks the schema", "invoice.refunded", map[string]any{"invoice_id": "in_1", "amount_cents": 0})
	check("a valid invoice.paid", "invoice.paid", InvoicePaid{InvoiceID: "in_1", AmountCents: 42, Currency: "eur"})
}
