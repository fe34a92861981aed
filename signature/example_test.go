package signature_test

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hookkit/hookkit/signature"
)

// Signing a message with one secret, as a sender does on every attempt.
func ExampleSigner_Sign() {
	keys := signature.MustKeyring("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	signer, err := signature.NewSigner(signature.SignerConfig{Keys: keys})
	if err != nil {
		panic(err)
	}
	sig, err := signer.Sign(nil, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(string(sig))
	// Output: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}

// Verifying a received request. The clock is fixed here so that the example
// is deterministic; production code leaves Now unset.
func ExampleStandardVerifier_Verify() {
	keys := signature.MustKeyring("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	verifier, err := signature.NewVerifier(signature.VerifierConfig{
		Keys: keys,
		Now:  func() time.Time { return time.Unix(1614265330, 0) },
	})
	if err != nil {
		panic(err)
	}
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")

	fmt.Println(verifier.Verify(h, []byte(`{"test": 2432232314}`)))

	err = verifier.Verify(h, []byte(`{"test": 1}`))
	fmt.Println(errors.Is(err, signature.ErrNoMatchingSignature))

	h.Set("webhook-timestamp", "1614264000") // 22 minutes earlier
	err = verifier.Verify(h, []byte(`{"test": 2432232314}`))
	fmt.Println(errors.Is(err, signature.ErrTooOld))
	// Output:
	// <nil>
	// true
	// true
}

// Rotating keys: the new key signs next to the old one until the old one's
// NotAfter; receivers holding either key accept the message meanwhile.
func ExampleKeyring_rotation() {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	oldKey := signature.MustParseKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	newKey := signature.MustParseKey("whsec_ZHJvcCB0aGUgb2xkIGtleSB0b21vcnJvdyE=")
	keys, err := signature.NewKeyring(
		signature.Entry{Key: oldKey, NotAfter: now.Add(24 * time.Hour)},
		signature.Entry{Key: newKey},
	)
	if err != nil {
		panic(err)
	}
	clock := now
	signer, _ := signature.NewSigner(signature.SignerConfig{Keys: keys, Now: func() time.Time { return clock }})
	body := []byte(`{"event_type":"invoice.paid"}`)

	sig, _ := signer.Sign(nil, "evt_1", clock.Unix(), body)
	fmt.Println("today:", string(sig))

	clock = now.Add(48 * time.Hour) // the old key has expired
	sig, _ = signer.Sign(nil, "evt_1", clock.Unix(), body)
	fmt.Println("in two days:", string(sig))

	// A receiver that still holds only the old key no longer accepts.
	oldOnly, _ := signature.NewVerifier(signature.VerifierConfig{
		Keys: signature.MustKeyring("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
		Now:  func() time.Time { return clock },
	})
	err = oldOnly.VerifyParts("evt_1", fmt.Sprint(clock.Unix()), string(sig), body)
	fmt.Println(errors.Is(err, signature.ErrNoMatchingSignature))
	// Output:
	// today: v1,zfIXfD2GYaJ1oTKDiIiEI5SVEGCLZ9NRjiXVmPwZ1Ng= v1,KVfiwLn3/PPlJtmEvw82oZX6LGtkqd9LapI50FQfpa8=
	// in two days: v1,hJPIxbPzkLT+f5lQ/PkBPZE5loPc83rcRmzmGxxaqB8=
	// true
}

// Verifying a GitHub webhook; any provider scheme plugs into a receiver the
// same way, as a Verifier.
func ExampleGitHub() {
	gh, err := signature.NewGitHub("It's a Secret to Everybody")
	if err != nil {
		panic(err)
	}
	var v signature.Verifier = gh

	h := http.Header{}
	h.Set("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	fmt.Println(v.Verify(h, []byte("Hello, World!")))

	err = v.Verify(http.Header{}, []byte("Hello, World!")) // unsigned: always refused
	fmt.Println(errors.Is(err, signature.ErrMissingHeaders))
	// Output:
	// <nil>
	// true
}

// Asymmetric signing (v1a): the sender keeps the whsk_ key, receivers get
// only the whpk_ public key.
func ExampleGenerateKeyPair() {
	secret, public, err := signature.GenerateKeyPair()
	if err != nil {
		panic(err)
	}
	signer, _ := signature.NewSigner(signature.SignerConfig{Keys: signature.MustKeyring(secret)})
	verifier, _ := signature.NewVerifier(signature.VerifierConfig{Keys: signature.MustKeyring(public)})

	h := http.Header{}
	body := []byte(`{"hello":"world"}`)
	_ = signer.SignHeader(h, "evt_1", time.Now(), body)
	fmt.Println(verifier.Verify(h, body))
	fmt.Println(signature.MustParseKey(secret)) // secrets never print
	// Output:
	// <nil>
	// whsk_[REDACTED]
}

// Keys print redacted, so a configuration can be logged safely.
func ExampleKey_String() {
	k := signature.MustParseKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	fmt.Println(k)
	fmt.Printf("%#v\n", k)
	// Output:
	// whsec_[REDACTED]
	// whsec_[REDACTED]
}

// A provider that sends "X-Signature: sha256=<hex>" over
// "{X-Timestamp}.{body}", configured with the generic HMAC scheme.
func ExampleNewGenericHMAC() {
	now := time.Unix(1700000000, 0)
	scheme, err := signature.NewGenericHMAC(signature.GenericHMACConfig{
		Secrets:         []string{"my provider secret"},
		Header:          "X-Signature",
		Prefix:          "sha256=",
		TimestampHeader: "X-Timestamp",
		Template:        "{timestamp}.{body}",
		Now:             func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}
	body := []byte(`{"ok":true}`)
	h := http.Header{}
	scheme.SignHeader(h, now, body) // what the provider would send
	fmt.Println(h.Get("X-Signature"))
	fmt.Println(scheme.Verify(h, body))
	// Output:
	// sha256=63872271d63ca924b36507dbeeb2e172ac0d36d14d5e81e457b5949d4d12a58d
	// <nil>
}

// Verifying a Stripe webhook during a secret roll: both secrets verify.
func ExampleNewStripe() {
	now := time.Unix(1700000000, 0)
	stripe, err := signature.NewStripe(signature.StripeConfig{
		Secrets: []string{"whsec_test_secret", "whsec_previous_secret"},
		Now:     func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}
	body := []byte(`{"id":"evt_1"}`)
	h := http.Header{}
	h.Set("Stripe-Signature", "t=1700000000,v1=248a374f50f943a28b0f6ab50faf9a7e7e29b710fa26df9fb1618b9bf8ea9c9a")
	fmt.Println(stripe.Verify(h, body))
	// Output: <nil>
}
