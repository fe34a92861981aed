// Command quickstart shows hookkit's foundation in one process: it builds an
// event, signs it the Standard Webhooks way, verifies it as a receiver would,
// and shows that a forged or tampered request is refused.
//
//	go run ./examples/quickstart
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/signature"
)

type invoicePaid struct {
	InvoiceID string `json:"invoice_id"`
	AmountDue int64  `json:"amount_due"`
	Currency  string `json:"currency"`
}

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	// 1. The sender and the receiver share a secret (whsec_… form).
	secret, err := signature.GenerateSecret()
	if err != nil {
		return err
	}
	key, err := signature.ParseKey(secret)
	if err != nil {
		return err
	}
	keys, err := signature.NewKeyring(signature.Entry{Key: key})
	if err != nil {
		return err
	}
	fmt.Printf("secret generated         %v (secrets never print)\n", key)

	// 2. Build and validate an event envelope.
	ev, err := event.New("invoice.paid", invoicePaid{InvoiceID: "in_1001", AmountDue: 4200, Currency: "eur"})
	if err != nil {
		return err
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	fmt.Printf("event built              %s %s (%d bytes)\n", ev.ID, ev.Type, len(body))

	// 3. Sign it: webhook-id, webhook-timestamp, webhook-signature.
	signer, err := signature.NewSigner(signature.SignerConfig{Keys: keys})
	if err != nil {
		return err
	}
	h := http.Header{}
	if err := signer.SignHeader(h, ev.ID, time.Now(), body); err != nil {
		return err
	}
	fmt.Printf("signed                   webhook-signature: %s\n", h.Get(signature.HeaderSignature))

	// 4. Verify it as a receiver would, then parse the envelope.
	verifier, err := signature.NewVerifier(signature.VerifierConfig{Keys: keys})
	if err != nil {
		return err
	}
	if err := verifier.Verify(h, body); err != nil {
		return fmt.Errorf("a correctly signed request did not verify: %w", err)
	}
	got, err := event.Parse(body)
	if err != nil {
		return err
	}
	fmt.Printf("verified and parsed      %s %s at %s\n", got.ID, got.Type, got.Timestamp.Format(time.RFC3339))

	// 5. A tampered body and a forged signature are refused.
	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-2] ^= 1
	if err := verifier.Verify(h, tampered); !errors.Is(err, signature.ErrNoMatchingSignature) {
		return fmt.Errorf("tampered body: want ErrNoMatchingSignature, got %v", err)
	}
	fmt.Println("tampered body refused    no matching signature")

	forger, _ := signature.GenerateSecret()
	fkey, _ := signature.ParseKey(forger)
	fring, _ := signature.NewKeyring(signature.Entry{Key: fkey})
	fsigner, _ := signature.NewSigner(signature.SignerConfig{Keys: fring})
	forged := http.Header{}
	if err := fsigner.SignHeader(forged, ev.ID, time.Now(), body); err != nil {
		return err
	}
	if err := verifier.Verify(forged, body); !errors.Is(err, signature.ErrNoMatchingSignature) {
		return fmt.Errorf("forged signature: want ErrNoMatchingSignature, got %v", err)
	}
	fmt.Println("forged signature refused no matching signature")

	stale := http.Header{}
	if err := signer.SignHeader(stale, ev.ID, time.Now().Add(-10*time.Minute), body); err != nil {
		return err
	}
	if err := verifier.Verify(stale, body); !errors.Is(err, signature.ErrTooOld) {
		return fmt.Errorf("replayed request: want ErrTooOld, got %v", err)
	}
	fmt.Println("stale replay refused     timestamp outside the 5 min tolerance")
	fmt.Fprintln(os.Stdout, "ok")
	return nil
}
