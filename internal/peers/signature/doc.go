// Package signature checks that hookkit's signature package interoperates
// with the Standard Webhooks reference library
// (github.com/standard-webhooks/standard-webhooks/libraries/go, v0.0.1) and
// Svix's Go library (github.com/svix/svix-webhooks/go, v1.99.1) in both
// directions, and benchmarks the three side by side against the floor, a raw
// HMAC-SHA256 over the same bytes with a reused hasher:
//
//	cd internal/peers && go test -run '^$' -bench . -benchmem -count 5 ./signature/
package signature
