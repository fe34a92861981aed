package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

type endpointRow struct {
	Name, Subscribed         string
	Delivered, Retried, Dead int
	Status                   string
}

type receiverRow struct {
	Name                                      string
	Accepted, Processed, Duplicates, Rejected int
}

// summary is what the run ends with.
type summary struct {
	endpoints []endpointRow
	receivers []receiverRow
	elapsed   time.Duration
}

func (s summary) print(w io.Writer) {
	fmt.Fprintf(w, "\nsummary (%s)\n\n", s.elapsed.Round(100*time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  endpoint\tsubscribed\tdelivered\tretried\tdead-lettered\tstatus")
	for _, r := range s.endpoints {
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%d\t%s\n", r.Name, r.Subscribed, r.Delivered, r.Retried, r.Dead, r.Status)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  receiver\taccepted\tprocessed\tduplicates\trejected")
	for _, r := range s.receivers {
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\n", r.Name, r.Accepted, r.Processed, r.Duplicates, r.Rejected)
	}
	_ = tw.Flush()
	fmt.Fprintln(w, `
delivered and retried count attempts; "retried" is a failed attempt with a retry scheduled.
Read on: README.md (sending, receiving, delivery semantics) and examples/ (PostgreSQL outbox,
Redis dedupe across replicas, GitHub webhooks, serving the event catalog).`)
}
